// Package patternset learns, compares and applies pattern sets: the
// recurring corrections of the data pool turned into patterns that map OCR
// text (or a wrong OCR value) to the value users corrected it to.
//
// It is a pure library — no database, HTTP, Redis or global state — used by
// the data pool (Learn, Split, Evaluate, Diff, Hash to build, validate and
// store versions), the training role and the OCR role (Compile, Match to
// apply them).
//
// Three kinds of pattern are learned (Learn):
//
//   - text: a phrase of the OCR text (1–4 words) that predicts a field's
//     value, e.g. "trip with" → merchant "Uber". Phrases are chosen for
//     their precision over the whole pool, not their frequency;
//   - alias: a wrong original value that users keep correcting to the same
//     value, e.g. "UBFR" → "Uber";
//   - category: a merchant's usual category, e.g. "Uber" → "Transport".
//
// Every pattern's confidence is its smoothed precision on the pool,
// (tp+1)/(n+2) where n is the number of examples it matched and tp the
// number of those with its value; a phrase that other merchants' receipts
// also contain scores low.
//
// A set compiles (Compile) into a Matcher that applies every text pattern
// in one pass over the text, with a token-level Aho–Corasick automaton.
//
// docs/PATTERNS.md describes the method, the choices and the measurements.
package patternset
