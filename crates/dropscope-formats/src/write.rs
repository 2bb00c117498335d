//! Writers of each text export form, so the simulator writes exactly what the reader reads.
