// Package peerhttp is the small JSON-over-HTTP client that every module's
// HTTPClient uses to call a peer role: base URL, the service API key as a
// Bearer token, the request id of the calling request (X-Request-ID), a
// timeout per call, and errors that survive the wire — a peer's
// {"error":{…}} body comes back as the same *apierr.Error, a peer that
// cannot be reached is apierr.Unavailable and one that does not answer in
// time is apierr.Timeout.
package peerhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/requestid"
)

// DefaultTimeout bounds a call when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxErrorBody is how much of an error response is read.
const maxErrorBody = 1 << 20

// Options tune a Client.
type Options struct {
	// HTTP is the transport to use; nil means http.DefaultTransport. Its
	// own Timeout is ignored (it would cut long streams): Timeout below
	// bounds each call instead.
	HTTP *http.Client
	// Timeout bounds a JSON call, and a streaming call until its response
	// headers arrive. Zero means DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent with every request; empty means "ocrpool-peer".
	UserAgent string
}

// Client calls one peer.
type Client struct {
	base    *url.URL
	key     string
	hc      *http.Client
	timeout time.Duration
	ua      string
}

// New returns a client for the peer at baseURL (http or https), presenting
// serviceKey as a Bearer token (none when empty).
func New(baseURL, serviceKey string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("peer URL %q: want http(s)://host[:port][/path]", baseURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("peer URL %s: credentials belong in the service key, not the URL", u.Redacted())
	}
	hc := &http.Client{}
	if opts.HTTP != nil {
		c := *opts.HTTP
		hc = &c
	}
	hc.Timeout = 0
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "ocrpool-peer"
	}
	return &Client{base: u, key: serviceKey, hc: hc, timeout: opts.Timeout, ua: opts.UserAgent}, nil
}

// BaseURL is the peer's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// JSON sends in (nil for no body) as JSON and decodes a 2xx answer into out
// (nil to discard it). It returns the status. Non-2xx answers are the
// peer's *apierr.Error.
func (c *Client) JSON(ctx context.Context, method, path string, query url.Values, in, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.do(ctx, method, path, query, in)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, ErrorFrom(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctxErr := c.ctxError(ctx, err); ctxErr != nil {
			return resp.StatusCode, ctxErr
		}
		return resp.StatusCode, apierr.New(apierr.Unavailable, "peer %s: reading the answer to %s %s: %v", c.base.Redacted(), method, path, err)
	}
	return resp.StatusCode, nil
}

// Stream sends the request and returns the response of a 2xx answer for
// the caller to read and close; the timeout applies until the headers
// arrive, then only ctx bounds the body. Non-2xx answers are the peer's
// *apierr.Error.
func (c *Client) Stream(ctx context.Context, method, path string, query url.Values, in any) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(c.timeout, func() { cancel(errHeaderTimeout) })
	resp, err := c.do(ctx, method, path, query, in)
	if !timer.Stop() && errors.Is(context.Cause(ctx), errHeaderTimeout) {
		if err == nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, apierr.New(apierr.Timeout, "peer %s did not answer %s %s within %s", c.base.Redacted(), method, path, c.timeout)
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer cancel(nil)
		defer resp.Body.Close()
		return nil, ErrorFrom(resp)
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

// errHeaderTimeout cancels a stream whose headers are late.
var errHeaderTimeout = errors.New("no response headers in time")

type cancelBody struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, in any) (*http.Response, error) {
	u := *c.base
	u.Path = c.base.Path + "/" + strings.TrimLeft(path, "/")
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("peer %s: encoding %s %s: %w", c.base.Redacted(), method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", c.base.Redacted(), err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if id := requestid.FromContext(ctx); requestid.Valid(id) {
		req.Header.Set(requestid.Header, id)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := c.ctxError(ctx, err); ctxErr != nil {
			return nil, ctxErr
		}
		// The error names host:port and the cause, never the key.
		return nil, apierr.New(apierr.Unavailable, "peer %s unreachable: %v", c.base.Redacted(), unwrapURLError(err))
	}
	return resp, nil
}

// ctxError turns a deadline into Timeout and keeps a caller's cancellation
// as context.Canceled; other errors give nil.
func (c *Client) ctxError(ctx context.Context, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return apierr.New(apierr.Timeout, "peer %s did not answer in time", c.base.Redacted())
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("peer %s: %w", c.base.Redacted(), context.Canceled)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ErrorFrom reads a non-2xx response into an error: the peer's
// *apierr.Error when the body is the {"error":{…}} envelope, otherwise an
// *apierr.Error with the code of the status (a proxy's 502 is Unavailable).
func ErrorFrom(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var env apierr.Envelope
	if err := json.Unmarshal(b, &env); err == nil && env.Error != nil && env.Error.Code != "" {
		return env.Error
	}
	code := apierr.FromStatus(resp.StatusCode)
	if code == "" {
		code = apierr.Internal
	}
	return apierr.New(code, "peer answered %s", resp.Status)
}

// DecodeError reads an error written as the JSON of an *apierr.Error (as in
// a trailer); text that is not one becomes an Internal error carrying it.
func DecodeError(s string) error {
	var e apierr.Error
	if err := json.Unmarshal([]byte(s), &e); err == nil && e.Code != "" {
		return &e
	}
	return apierr.New(apierr.Internal, "peer reported: %s", s)
}
