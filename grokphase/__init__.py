"""grokphase: theory-first physics of delayed generalisation and of phase transitions in attention."""
__version__ = "0.1.0"
