package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/requestid"
)

// logKey is where the server keeps its logger in a gin context, so Error can
// log internal errors without handlers passing a logger around.
const logKey = "ocrpool.log"

// errKey records the error a handler answered with, for the audit log.
const errKey = "ocrpool.error"

// Error writes err as {"error":{…}} with the status of its code. Errors
// that are not *apierr.Error are bugs or outages: they are logged with the
// request id and the client sees only "internal error".
func Error(c *gin.Context, err error) {
	pub := apierr.Public(err)
	if pub.Code == apierr.Internal {
		if log, ok := c.Value(logKey).(*slog.Logger); ok {
			log.ErrorContext(c.Request.Context(), "internal error",
				"request_id", requestid.FromContext(c.Request.Context()),
				"route", routeLabel(c), "err", err)
		}
	}
	c.Set(errKey, pub)
	c.AbortWithStatusJSON(apierr.Status(pub.Code), apierr.Envelope{Error: pub})
}

// ErrorOf returns the error that Error wrote for this request, if any.
func ErrorOf(c *gin.Context) *apierr.Error {
	e, _ := c.Value(errKey).(*apierr.Error)
	return e
}

// DecodeJSON reads the request body into v strictly: unknown fields, wrong
// types, trailing data, invalid UTF-8 and oversize bodies are *apierr.Error
// values that name the problem (and the field where JSON says which).
func DecodeJSON(c *gin.Context, v any) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apierr.New(apierr.TooLarge, "request body is over the limit of %d bytes", mbe.Limit)
		}
		return apierr.New(apierr.Invalid, "reading request body: %v", err)
	}
	return DecodeJSONBytes(body, v)
}

// DecodeJSONBytes is DecodeJSON for a body already read.
func DecodeJSONBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apierr.New(apierr.Invalid, "request body is empty, want JSON")
	}
	if !utf8.Valid(body) {
		return apierr.New(apierr.Invalid, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return apierr.New(apierr.Invalid, "request body has data after the JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return apierr.New(apierr.Invalid, "request body has data after the JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return apierr.New(apierr.Invalid, "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return apierr.Field(field, "must be %s, got JSON %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apierr.New(apierr.Invalid, "malformed JSON: unexpected end of body")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apierr.Field(name, "unknown field")
	}
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return ae // a field type's own UnmarshalJSON said what is wrong
	}
	return apierr.New(apierr.Invalid, "malformed JSON: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return fmt.Sprintf("a %s", k)
}
