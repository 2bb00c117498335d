//! Ranking causes by impact, with evidence statements and documented resolutions.
