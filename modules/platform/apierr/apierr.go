// Package apierr is ocrpool's error value: a code that maps to one HTTP
// status both ways, a message safe to show a client and the offending field.
// Handlers write it as {"error":{"code","message","field"}}; HTTP clients
// decode it back, so apierr.CodeOf(err) means the same thing whether a call
// was in-process or went over the network (WTF Dial, Flipt).
package apierr

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an error for clients.
type Code string

// The codes ocrpool returns. Each maps to exactly one HTTP status.
const (
	Invalid         Code = "invalid"           // 400: the request is malformed or a field is wrong
	Unauthenticated Code = "unauthenticated"   // 401: no valid API key
	Forbidden       Code = "forbidden"         // 403: the key's role lacks the permission
	NotFound        Code = "not_found"         // 404
	Conflict        Code = "conflict"          // 409: clashes with stored state
	TooLarge        Code = "too_large"         // 413: body or image over the limit
	Unsupported     Code = "unsupported_media" // 415
	Unprocessable   Code = "unprocessable"     // 422: well-formed but cannot be processed
	RateLimited     Code = "rate_limited"      // 429
	Internal        Code = "internal"          // 500: a bug; details are only logged
	Unavailable     Code = "unavailable"       // 503: a dependency or peer is down, retry later
	Timeout         Code = "timeout"           // 504
)

var statusOf = map[Code]int{
	Invalid:         http.StatusBadRequest,
	Unauthenticated: http.StatusUnauthorized,
	Forbidden:       http.StatusForbidden,
	NotFound:        http.StatusNotFound,
	Conflict:        http.StatusConflict,
	TooLarge:        http.StatusRequestEntityTooLarge,
	Unsupported:     http.StatusUnsupportedMediaType,
	Unprocessable:   http.StatusUnprocessableEntity,
	RateLimited:     http.StatusTooManyRequests,
	Internal:        http.StatusInternalServerError,
	Unavailable:     http.StatusServiceUnavailable,
	Timeout:         http.StatusGatewayTimeout,
}

// Error is an error a client may see.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// New returns an *Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field returns an Invalid error that names the field at fault.
func Field(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, Internal for
// any other non-nil error and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return CodeOf(err) == code }

// Status is the HTTP status for code; unknown codes are 500.
func Status(code Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// FromStatus is the code an HTTP client assigns to a status that came
// without an error body (a proxy's 502, say).
func FromStatus(status int) Code {
	for c, s := range statusOf {
		if s == status {
			return c
		}
	}
	switch {
	case status >= 500:
		return Unavailable
	case status >= 400:
		return Invalid
	}
	return ""
}

// Public returns the client-safe form of err: the *Error itself, or a
// generic Internal error that hides whatever went wrong inside.
func Public(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: "internal error"}
}

// Envelope is the JSON body of every error response.
type Envelope struct {
	Error *Error `json:"error"`
}
