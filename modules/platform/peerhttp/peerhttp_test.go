package peerhttp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/requestid"
)

func TestNew(t *testing.T) {
	for _, bad := range []string{"", "localhost:5000", "ftp://x", "http://", "http://user:pw@host"} {
		if _, err := New(bad, "", Options{}); err == nil {
			t.Errorf("New(%q): want an error", bad)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("New(%q): the error shows the password: %v", bad, err)
		}
	}
	c, err := New("http://127.0.0.1:5000/base/", "k", Options{})
	if err != nil || c.BaseURL() != "http://127.0.0.1:5000/base" {
		t.Fatalf("New = %v, %v", c, err)
	}
}

func TestJSON(t *testing.T) {
	var got *http.Request
	var gotBody string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"abc"}`))
	}))
	defer ts.Close()
	c, err := New(ts.URL+"/api", "sk_test", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := requestid.NewContext(context.Background(), "req-123")
	var out struct{ ID string }
	status, err := c.JSON(ctx, http.MethodPost, "/corrections/ingest", url.Values{"a": {"1"}}, map[string]int{"x": 1}, &out)
	if err != nil || status != http.StatusCreated || out.ID != "abc" {
		t.Fatalf("JSON = %d, %+v, %v", status, out, err)
	}
	checks := map[string][2]string{
		"path":          {got.URL.Path, "/api/corrections/ingest"},
		"query":         {got.URL.RawQuery, "a=1"},
		"authorization": {got.Header.Get("Authorization"), "Bearer sk_test"},
		"request id":    {got.Header.Get(requestid.Header), "req-123"},
		"content type":  {got.Header.Get("Content-Type"), "application/json"},
		"body":          {gotBody, `{"x":1}`},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
}

func TestErrorsSurviveTheWire(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		code    apierr.Code
		field   string
	}{
		{"Envelope", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(apierr.Envelope{Error: &apierr.Error{Code: apierr.Conflict, Message: "taken", Field: "source_correction_id"}})
		}, apierr.Conflict, "source_correction_id"},
		{"InvalidWithField", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"code":"invalid","message":"bad","field":"corrected_fields.date"}}`))
		}, apierr.Invalid, "corrected_fields.date"},
		{"ProxyHTML502", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`<html>bad gateway</html>`))
		}, apierr.Unavailable, ""},
		{"Bare404", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) }, apierr.NotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(tt.handler)
			defer ts.Close()
			c, _ := New(ts.URL, "", Options{})
			_, err := c.JSON(context.Background(), http.MethodGet, "/x", nil, nil, nil)
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != tt.code || ae.Field != tt.field {
				t.Fatalf("JSON error = %#v, want code %q field %q", err, tt.code, tt.field)
			}
			_, err = c.Stream(context.Background(), http.MethodGet, "/x", nil, nil)
			if !errors.As(err, &ae) || ae.Code != tt.code {
				t.Fatalf("Stream error = %v, want code %q", err, tt.code)
			}
		})
	}
}

func TestNetworkFailureIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, _ := New("http://"+addr, "secret-key", Options{})
	_, err = c.JSON(context.Background(), http.MethodGet, "/x", nil, nil, nil)
	if apierr.CodeOf(err) != apierr.Unavailable || strings.Contains(err.Error(), "secret-key") {
		t.Fatalf("err = %v, want unavailable without the key", err)
	}
	if _, err := c.Stream(context.Background(), http.MethodGet, "/x", nil, nil); apierr.CodeOf(err) != apierr.Unavailable {
		t.Fatalf("stream err = %v", err)
	}
}

func TestTimeouts(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slowbody" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			time.Sleep(150 * time.Millisecond) // longer than the timeout: fine once headers are in
			_, _ = w.Write([]byte("done"))
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)
	c, _ := New(ts.URL, "", Options{Timeout: 50 * time.Millisecond})
	if _, err := c.JSON(context.Background(), http.MethodGet, "/slow", nil, nil, nil); apierr.CodeOf(err) != apierr.Timeout {
		t.Fatalf("JSON err = %v, want timeout", err)
	}
	if _, err := c.Stream(context.Background(), http.MethodGet, "/slow", nil, nil); apierr.CodeOf(err) != apierr.Timeout {
		t.Fatalf("Stream err = %v, want timeout", err)
	}
	resp, err := c.Stream(context.Background(), http.MethodGet, "/slowbody", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "done" {
		t.Fatalf("a slow body after timely headers: %q, %v", b, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.JSON(ctx, http.MethodGet, "/slow", nil, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

func TestDecodeError(t *testing.T) {
	err := DecodeError(`{"code":"unavailable","message":"db down"}`)
	if apierr.CodeOf(err) != apierr.Unavailable {
		t.Fatalf("err = %v", err)
	}
	if err := DecodeError("garbage"); apierr.CodeOf(err) != apierr.Internal {
		t.Fatalf("err = %v", err)
	}
}
