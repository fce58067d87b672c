package datapool

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/peerhttp"
)

// Client is what other modules (and the CLI) may ask of the data pool. It
// is implemented by *Service (in-process) and by *HTTPClient (the data pool
// runs in another process); both pass datapooltest.Conformance. Arguments
// and results are JSON-able values, so a call means the same on either side
// of the wire, and errors are *apierr.Error values with the same codes.
//
// Callers that need only some methods declare their own smaller
// interface.
type Client interface {
	// Ingest stores one correction and returns its id; Duplicate is set
	// when the same correction was already stored (nothing changed).
	// Errors: Invalid (with Field), Conflict (same source_correction_id,
	// different content), Unavailable/Timeout.
	Ingest(ctx context.Context, c Correction) (IngestResult, error)
	// IngestBatch stores up to datapool.max_batch corrections and reports
	// each one (stored, duplicate, or rejected with its error); valid items
	// are stored even when others are not. Errors (nothing stored): Invalid
	// for an empty batch, TooLarge over the limit, Unavailable/Timeout.
	IngestBatch(ctx context.Context, cs []Correction) ([]ItemResult, error)
	// Export streams the corrections q selects to w in q.Format and
	// records the dataset. Errors: Invalid (with Field) for a bad filter;
	// any error after writing began leaves w with a partial file.
	Export(ctx context.Context, q ExportQuery, w io.Writer) (Dataset, error)
	// ActivePatternSet returns the active pattern set. Errors: NotFound
	// when none has been activated yet, Unavailable/Timeout.
	ActivePatternSet(ctx context.Context) (*PatternSet, error)
	// PatternSetVersion returns one version with its patterns. Errors:
	// Invalid for a malformed name, NotFound.
	PatternSetVersion(ctx context.Context, version string) (*PatternSet, error)
}

var (
	_ Client = (*Service)(nil)
	_ Client = (*HTTPClient)(nil)
)

// HTTPClient is the data pool over HTTP: POST /corrections/ingest and GET
// /corrections/export of a data pool role elsewhere (peers.datapool_url),
// with a service API key.
type HTTPClient struct {
	c *peerhttp.Client
}

// NewHTTPClient returns a client of the data pool at baseURL. hc may be
// nil; its Timeout is replaced by peerhttp's per-call timeout so exports
// can stream for longer.
func NewHTTPClient(baseURL, serviceKey string, hc *http.Client) (*HTTPClient, error) {
	opts := peerhttp.Options{HTTP: hc, UserAgent: "ocrpool-datapool-client"}
	if hc != nil && hc.Timeout > 0 {
		opts.Timeout = hc.Timeout
	}
	c, err := peerhttp.New(baseURL, serviceKey, opts)
	if err != nil {
		return nil, err
	}
	return &HTTPClient{c: c}, nil
}

// Ingest implements Client.
func (h *HTTPClient) Ingest(ctx context.Context, c Correction) (IngestResult, error) {
	var res IngestResult
	_, err := h.c.JSON(ctx, http.MethodPost, "/corrections/ingest", nil, c, &res)
	return res, err
}

// IngestBatch implements Client.
func (h *HTTPClient) IngestBatch(ctx context.Context, cs []Correction) ([]ItemResult, error) {
	if len(cs) == 0 {
		return nil, &apierr.Error{Code: apierr.Invalid, Field: "corrections", Message: "the batch is empty"}
	}
	var res BatchResult
	body := struct {
		Corrections []Correction `json:"corrections"`
	}{cs}
	if _, err := h.c.JSON(ctx, http.MethodPost, "/corrections/ingest", nil, body, &res); err != nil {
		return nil, err
	}
	return res.Results, nil
}

// Export implements Client. The count and size come from the response's
// trailers; a failure the server met after it began to send is in the
// X-Export-Error trailer and returned here.
func (h *HTTPClient) Export(ctx context.Context, q ExportQuery, w io.Writer) (Dataset, error) {
	resp, err := h.c.Stream(ctx, http.MethodGet, "/corrections/export", q.Values(), nil)
	if err != nil {
		return Dataset{}, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return Dataset{}, ctx.Err()
		}
		return Dataset{}, apierr.New(apierr.Unavailable, "data pool at %s: the export broke off after %d bytes: %v", h.c.BaseURL(), n, err)
	}
	if e := resp.Trailer.Get(TrailerExportError); e != "" {
		return Dataset{}, peerhttp.DecodeError(e)
	}
	ds := Dataset{ID: resp.Header.Get(HeaderDatasetID), Format: q.Format, Count: -1, Bytes: n}
	if ds.Format == "" {
		ds.Format = JSONL
	}
	if v, err := strconv.ParseInt(resp.Trailer.Get(TrailerCount), 10, 64); err == nil {
		ds.Count = v
	}
	return ds, nil
}

// ActivePatternSet implements Client: GET /patterns/global.
func (h *HTTPClient) ActivePatternSet(ctx context.Context) (*PatternSet, error) {
	var ps PatternSet
	if _, err := h.c.JSON(ctx, http.MethodGet, "/patterns/global", nil, nil, &ps); err != nil {
		return nil, err
	}
	return &ps, nil
}

// PatternSetVersion implements Client: GET /patterns/version/{v}.
func (h *HTTPClient) PatternSetVersion(ctx context.Context, version string) (*PatternSet, error) {
	if !validVersionName(version) {
		return nil, apierr.Field("version", "must look like v12")
	}
	var ps PatternSet
	if _, err := h.c.JSON(ctx, http.MethodGet, "/patterns/version/"+version, nil, nil, &ps); err != nil {
		return nil, err
	}
	return &ps, nil
}
