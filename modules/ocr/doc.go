// Package ocr reads receipts: 8-step image preprocessing, a pool of
// Tesseract clients and the inference engine that applies the rules and the
// pattern set of the release routed to each request (DESIGN §7).
//
// It owns no tables; it serves /ocr and calls the data pool (pattern sets)
// and deployment (routing, outcomes).
package ocr
