package datapool

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// Export trailers: sent after the body, since they are known only then.
const (
	HeaderDatasetID    = "X-Dataset-ID"
	TrailerCount       = "X-Dataset-Count"
	TrailerBytes       = "X-Dataset-Bytes"
	TrailerExportError = "X-Export-Error"
)

// ingestBody is the body of POST /corrections/ingest: one correction, or
// {"corrections":[…]} (and nothing else).
type ingestBody struct {
	Correction
	Corrections []json.RawMessage `json:"corrections"`
}

// readBody reads the request body, turning an oversize body into 413.
func readBody(c *gin.Context) ([]byte, error) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apierr.New(apierr.TooLarge, "request body is over the limit of %d bytes", mbe.Limit)
		}
		return nil, apierr.New(apierr.Invalid, "reading request body: %v", err)
	}
	return body, nil
}

// ingestFast is ingestBody with the items decoded in the same pass: the
// common case, a body without errors, is read once.
type ingestFast struct {
	Correction
	Corrections []Correction `json:"corrections"`
}

// decodeIngest reads an ingest body. For a batch it returns the items; when
// the body has an error it decodes each item on its own so that one bad item
// rejects only itself (decode errors of items are in itemErrs). maxBatch is
// checked before the items are decoded one by one.
func decodeIngest(body []byte, maxBatch int) (single *Correction, items []Correction, itemErrs []error, err error) {
	var fast ingestFast
	if server.DecodeJSONBytes(body, &fast) == nil {
		if fast.Corrections == nil {
			return &fast.Correction, nil, nil, nil
		}
		if err := checkBatchBody(fast.Correction, len(fast.Corrections), maxBatch); err != nil {
			return nil, nil, nil, err
		}
		return nil, fast.Corrections, make([]error, len(fast.Corrections)), nil
	}
	var b ingestBody
	if err := server.DecodeJSONBytes(body, &b); err != nil {
		// encoding/json names fields of the embedded Correction
		// "Correction.x"; the client knows them as "x".
		var ae *apierr.Error
		if errors.As(err, &ae) {
			ae.Field = strings.TrimPrefix(ae.Field, "Correction.")
		}
		return nil, nil, nil, err
	}
	if b.Corrections == nil {
		return &b.Correction, nil, nil, nil
	}
	if err := checkBatchBody(b.Correction, len(b.Corrections), maxBatch); err != nil {
		return nil, nil, nil, err
	}
	items = make([]Correction, len(b.Corrections))
	itemErrs = make([]error, len(b.Corrections))
	forEach(len(b.Corrections), func(i int) {
		if err := server.DecodeJSONBytes(b.Corrections[i], &items[i]); err != nil {
			itemErrs[i] = err
		}
	})
	return nil, items, itemErrs, nil
}

// checkBatchBody refuses a batch that also carries correction fields, an
// empty one and one over the limit.
func checkBatchBody(outer Correction, n, maxBatch int) error {
	if !reflect.ValueOf(outer).IsZero() {
		return apierr.Field("corrections", "a batch body holds only \"corrections\"; put every field inside the items")
	}
	switch {
	case n == 0:
		return apierr.Field("corrections", "the batch is empty")
	case n > maxBatch:
		return &apierr.Error{Code: apierr.TooLarge, Field: "corrections",
			Message: fmt.Sprintf("the batch has %d corrections, the limit is %d (datapool.max_batch)", n, maxBatch)}
	}
	return nil
}

// handleIngest serves POST /corrections/ingest.
//
// One correction: 201 {"id","duplicate":false} when stored, 200
// {"id","duplicate":true} for a retry of a stored one, 409 when the source
// id is stored with different content, 400 naming the field.
//
// A batch: 200 {"results":[…]} when every item was stored or was a
// duplicate, 207 when at least one item was rejected (valid items are
// stored all the same). Whole-body problems (malformed JSON, an empty
// batch, over datapool.max_batch) are a 4xx and store nothing.
func (s *Service) handleIngest(c *gin.Context) {
	body, err := readBody(c)
	if err != nil {
		server.Error(c, err)
		return
	}
	single, items, itemErrs, err := decodeIngest(body, s.cfg.MaxBatch)
	if err != nil {
		server.Error(c, err)
		return
	}
	ctx := c.Request.Context()
	if single != nil {
		res, err := s.Ingest(ctx, *single)
		if err != nil {
			server.Error(c, err)
			return
		}
		status := http.StatusCreated
		if res.Duplicate {
			status = http.StatusOK
		}
		c.JSON(status, res)
		return
	}
	results, err := s.ingest(ctx, items, itemErrs)
	if err != nil {
		server.Error(c, err)
		return
	}
	status := http.StatusOK
	for _, r := range results {
		if r.Error != nil {
			status = http.StatusMultiStatus
			break
		}
	}
	c.JSON(status, BatchResult{Results: results})
}

// handleExport serves GET /corrections/export: the file in the body, the
// dataset id in X-Dataset-ID, and the count and size as trailers
// (X-Dataset-Count, X-Dataset-Bytes). A failure after the first bytes were
// sent cannot change the status: it is reported in the X-Export-Error
// trailer as the JSON of the error, and the body is incomplete.
func (s *Service) handleExport(c *gin.Context) {
	q, err := ParseExportQuery(c.Request.URL.Query(), s.now())
	if err != nil {
		server.Error(c, err)
		return
	}
	e, err := s.newExport(q)
	if err != nil {
		server.Error(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", e.q.Format.ContentType())
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", e.id+"."+string(e.q.Format)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(HeaderDatasetID, e.id)
	h.Set("Trailer", TrailerCount+", "+TrailerBytes+", "+TrailerExportError)
	c.Status(http.StatusOK)
	ds, err := e.run(c.Request.Context(), c.Writer)
	if err != nil {
		if !c.Writer.Written() {
			h.Del("Trailer")
			h.Del("Content-Disposition")
			h.Del(HeaderDatasetID)
			server.Error(c, err)
			return
		}
		pub := apierr.Public(err)
		if pub.Code == apierr.Internal {
			s.log.ErrorContext(c.Request.Context(), "export failed mid-stream", "dataset_id", e.id, "err", err)
		}
		b, _ := json.Marshal(pub)
		h.Set(TrailerExportError, string(b))
		return
	}
	h.Set(TrailerCount, strconv.FormatInt(ds.Count, 10))
	h.Set(TrailerBytes, strconv.FormatInt(ds.Bytes, 10))
}

// handleStats serves GET /corrections/stats.
func (s *Service) handleStats(c *gin.Context) {
	q, err := ParseStatsQuery(c.Request.URL.Query(), s.now())
	if err != nil {
		server.Error(c, err)
		return
	}
	st, err := s.Stats(c.Request.Context(), q)
	if err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}
