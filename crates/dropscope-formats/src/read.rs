//! Parsers of each export form: bytes of one input -> events plus rejects.
