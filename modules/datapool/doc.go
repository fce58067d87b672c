// Package datapool is the central store of OCR corrections (DESIGN §1, §4;
// issue 4): every app and environment sends its users' corrections here,
// where they are masked, normalised, scored and kept as training data.
//
// # What it owns
//
// The tables corrections_master and training_datasets (migrations 0001 and
// 0003). Nothing else touches them; other modules use Client.
//
// # What it exposes
//
//   - POST /corrections/ingest (auth.PermIngest): one correction, or
//     {"corrections":[…]} of up to datapool.max_batch (1000).
//     One correction: 201 {"id","duplicate":false} when stored; 200
//     {"id","duplicate":true} when the same (source_app,
//     source_correction_id) with the same content is already stored
//     (nothing changes); 409 when that id is stored with different content;
//     400 naming the field for invalid input.
//     A batch: 200 {"results":[…]} when every item was stored or was a
//     duplicate; 207 Multi-Status when at least one item was rejected. Each
//     result is {"index","status","id","duplicate"} or
//     {"index","status","error":{code,message,field}}; valid items are
//     stored whatever happens to the others. Problems of the body as a whole
//     store nothing: malformed JSON or invalid UTF-8 (400), an empty batch
//     (400), more items than the limit (413), a body over
//     server.max_body_bytes (413).
//   - GET /corrections/export (auth.PermExport): since, until (7d, 24h, a
//     date or an RFC 3339 time), min_quality, apps, environments, fields,
//     include_outliers, format=jsonl|csv|parquet. Streamed in keyset pages;
//     the dataset id comes in X-Dataset-ID, the count and size in the
//     X-Dataset-Count and X-Dataset-Bytes trailers (X-Export-Error when the
//     export failed after it began). Each export is recorded in
//     training_datasets.
//   - GET /corrections/stats (auth.PermStats): totals by app, environment and
//     corrected field, the quality histogram, ingestion per hour.
//   - A Redis stream (<prefix>datapool:corrections) with one entry per
//     stored correction (see events.go).
//   - Client, implemented in-process by *Service and remotely by
//     *HTTPClient; datapooltest.Conformance holds both to one contract.
//   - Service.ImportFile behind `ocrpool import` and Export behind
//     `ocrpool export`.
//
// # The ingest pipeline
//
//  1. Validate: required fields, identifiers, UUID source ids, UTF-8, sizes.
//  2. Mask PII (pii.go) before anything is stored or logged: user_id →
//     HMAC-SHA256 with security.pii_key; receipt_image_path → 16 hex; expense_id
//     → "exp_" token; card numbers (Luhn), e-mail addresses and phone numbers
//     in the OCR text and in every free-text field.
//  3. Normalise (normalize.go): merchant, category (taxonomy), date, amount
//     and currency, card last four. fields_corrected is the normalised
//     difference between the original inference and the corrected fields.
//  4. Score (quality.go) with
//     score = 0.30·confidence + 0.20·extent + 0.25·consistency + 0.15·length + 0.10·PII,
//     each term 0–1 as documented there, and flag outliers: identical to the
//     original, receipt dated in the future or over two years back,
//     created_at in the future, an amount an order of magnitude and over 5
//     robust deviations away from the merchant's median, the same receipt
//     text stored before.
//  5. Store with INSERT … ON CONFLICT (source_app, source_correction_id) DO
//     NOTHING, then read the stored row for those that did not insert: same
//     content fingerprint → duplicate, else 409. Concurrent identical
//     requests therefore make one row. Single corrections that arrive
//     together are group-committed (groupcommit.go): one multi-row INSERT
//     and one commit for whatever is queued while the previous one runs,
//     with the duplicate-receipt rule inside the statement and each request
//     answered on its own. A PostgreSQL batch of 50 or more is COPied
//     straight into the table; when a source id is stored already, through
//     a temporary table and one INSERT … SELECT instead.
//  6. Publish an event per stored row after commit: from a queue drained in
//     the background while the module runs, synchronously otherwise (the
//     CLI). A Redis outage is logged and counted, never fails the ingest.
//
// Batches are decoded and prepared on all CPUs; the pure steps 1–4 cost
// about 40 µs per correction (BenchmarkPrepare).
//
// # What it calls
//
// No other module. It uses the platform's database, Redis and metrics.
package datapool
