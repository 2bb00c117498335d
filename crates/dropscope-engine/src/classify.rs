//! The root-cause classifier: one cause and a confidence for every disconnect and failed connect.
