package ocr

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/server"
)

// maxFormValue bounds routing_key and app.
const maxFormValue = 256

// handleProcess serves POST /ocr/process: multipart/form-data with the
// image in field "image" and optional "routing_key" and "app".
func (m *Module) handleProcess(c *gin.Context) {
	image, opts, err := m.readProcessForm(c.Request)
	if err != nil {
		server.Error(c, err)
		return
	}
	res, err := m.svc.Process(c.Request.Context(), image, opts)
	if err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// readProcessForm streams the multipart body part by part (no temporary
// files), reading at most ocr.max_image_bytes of the image.
func (m *Module) readProcessForm(r *http.Request) ([]byte, Options, error) {
	var opts Options
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		return nil, opts, apierr.New(apierr.Unsupported, "send multipart/form-data with the receipt in the field \"image\"")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var image []byte
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, opts, bodyErr(err, "reading the multipart body")
		}
		name := part.FormName()
		switch name {
		case "image":
			if image != nil {
				return nil, opts, apierr.Field("image", "sent more than once")
			}
			image, err = io.ReadAll(io.LimitReader(part, m.cfg.MaxImageBytes+1))
			if err != nil {
				return nil, opts, bodyErr(err, "reading the image")
			}
			if int64(len(image)) > m.cfg.MaxImageBytes {
				return nil, opts, apierr.New(apierr.TooLarge, "the image is over the limit of %d bytes", m.cfg.MaxImageBytes)
			}
		case "routing_key", "app":
			v, err := io.ReadAll(io.LimitReader(part, maxFormValue+1))
			if err != nil {
				return nil, opts, bodyErr(err, "reading "+name)
			}
			if len(v) > maxFormValue {
				return nil, opts, apierr.Field(name, "must be at most %d bytes", maxFormValue)
			}
			if name == "app" {
				opts.App = strings.TrimSpace(string(v))
			} else {
				opts.RoutingKey = strings.TrimSpace(string(v))
			}
		default:
			return nil, opts, apierr.Field(fieldName(name), "unknown field (want image, routing_key, app)")
		}
		_ = part.Close()
	}
	if image == nil {
		return nil, opts, apierr.Field("image", "missing: send the receipt in the multipart field \"image\"")
	}
	return image, opts, nil
}

// fieldName keeps a client's field name printable and short in errors.
func fieldName(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return fmt.Sprintf("%q", s)[1 : len(fmt.Sprintf("%q", s))-1]
}

// bodyErr maps a failure to read the body: over the route's limit is 413,
// anything else a malformed request.
func bodyErr(err error, what string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apierr.New(apierr.TooLarge, "the request body is over the limit of %d bytes", mbe.Limit)
	}
	return apierr.New(apierr.Invalid, "%s: %v", what, err)
}

// extractRequest is the body of POST /ocr/extract.
type extractRequest struct {
	Text       *string `json:"text"`
	RoutingKey string  `json:"routing_key"`
	App        string  `json:"app"`
}

// handleExtract serves POST /ocr/extract.
func (m *Module) handleExtract(c *gin.Context) {
	var req extractRequest
	if err := server.DecodeJSON(c, &req); err != nil {
		server.Error(c, err)
		return
	}
	if req.Text == nil {
		server.Error(c, apierr.Field("text", "is required"))
		return
	}
	for name, v := range map[string]string{"routing_key": req.RoutingKey, "app": req.App} {
		if len(v) > maxFormValue {
			server.Error(c, apierr.Field(name, "must be at most %d bytes", maxFormValue))
			return
		}
	}
	res, err := m.svc.Extract(c.Request.Context(), *req.Text, Options{RoutingKey: req.RoutingKey, App: req.App})
	if err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// handleReloadPatterns serves POST /ocr/v2/patterns/reload, the webhook a
// data pool (or an operator) calls after activating or rolling back a
// pattern set.
func (m *Module) handleReloadPatterns(c *gin.Context) {
	v, err := m.svc.ReloadPatterns(c.Request.Context())
	if err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"pattern_set": v})
}

// handleGetRouting serves GET /ocr/v2/routing: the releases requests go to.
func (m *Module) handleGetRouting(c *gin.Context) {
	c.JSON(http.StatusOK, m.svc.Routing())
}

// handlePutRouting serves PUT /ocr/v2/routing: the deployment manager (or
// an operator) moves traffic between releases. The pattern sets the
// releases pin are loaded before the switch; on any error nothing changes.
func (m *Module) handlePutRouting(c *gin.Context) {
	var r Routing
	if err := server.DecodeJSON(c, &r); err != nil {
		server.Error(c, err)
		return
	}
	if err := m.svc.SetRouting(c.Request.Context(), r); err != nil {
		server.Error(c, err)
		return
	}
	c.JSON(http.StatusOK, m.svc.Routing())
}
