//! The live console loop (collectors → engine task → UI); filled in below.
