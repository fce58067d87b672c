// Package datapool is the central store of OCR corrections (DESIGN §1, §4).
//
// It owns the tables corrections_master, training_datasets and
// pattern_cache_versions, serves the /corrections and /patterns routes and
// runs the scheduled pattern refresh. It calls no other module; training,
// deployment and ocr call it through its Client (in-process or HTTP).
package datapool
