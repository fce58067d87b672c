// Package ocr reads receipts: 8-step image preprocessing, a pool of
// Tesseract clients and the inference engine that applies the rules and the
// pattern set of the release routed to each request (DESIGN §7).
//
// It owns no tables. It serves
//
//   - POST /ocr/process (auth.PermOCR): multipart image (JPEG, PNG, TIFF),
//     optional routing_key and app → Result
//   - POST /ocr/extract (auth.PermOCR): {"text", "routing_key", "app"} → the
//     same Result without OCR
//   - POST /ocr/v2/patterns/reload (auth.PermOCRAdmin): fetch and apply the
//     pattern set now (503 "no pattern source configured" without a loader)
//
// A request goes: admission (one slot per Tesseract client, waiting at most
// ocr.queue_timeout) → preprocess.Decode (byte, pixel and time limits,
// checked from the header before decoding) → preprocess.Run (the steps
// switched on in ocr.preprocess) → engine.Engine (Tesseract, one client per
// slot) → extract.Extractor with the current pattern set → Result with
// per-step timings. Every request, failed or not, publishes an Outcome on
// the Redis stream cache.Key("ocr", "outcomes") in the background.
//
// Patterns: the set in use sits behind an atomic pointer and is swapped
// without locks. Service.SetPatterns replaces it directly;
// Service.SetPatternLoader (Deps.Patterns) names where reloads fetch it
// from, and the module follows activations announced on
// Deps.PatternChannel (learned.go). Until a loader is wired, extraction runs
// on the built-in rules only.
//
// Subpackages: preprocess (the eight steps, pure functions), engine (the
// Engine interface and the gosseract pool; -tags notesseract builds
// without it), extract (text → fields), synth (synthetic receipts for
// tests), eval (scoring on labelled receipts, `ocrpool eval`).
// docs/OCR.md has the pipeline, the ablation and the accuracy.
package ocr
