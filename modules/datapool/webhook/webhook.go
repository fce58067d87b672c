// Package webhook tells subscribed apps that a new pattern set is live.
//
// Admins register subscriber URLs (app, environment, secret). Publish
// records one delivery per active subscriber in webhook_deliveries; a worker
// POSTs each one, signed with HMAC-SHA256 (see sign.go), and retries
// failures with exponential backoff until GiveUpAfter (24 h by default).
// Every attempt is appended to the delivery's attempt_log. Deliveries live
// in the database, so a restart or another replica picks up where this one
// stopped; a delivery is claimed by moving its next_attempt_at forward in
// one conditional UPDATE, so two replicas never send the same attempt.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// Event types.
const (
	EventActivated  = "patterns.activated"
	EventRolledBack = "patterns.rolled_back"
)

// Event is what subscribers receive as the JSON body.
type Event struct {
	Event       string    `json:"event"`
	Version     string    `json:"version"`
	ETag        string    `json:"etag"`
	ActivatedAt time.Time `json:"activated_at"`
}

// Subscription is a registered receiver. Secret is only filled in when the
// subscription is created.
type Subscription struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	AppName     string    `json:"app_name"`
	Environment string    `json:"environment"`
	Events      []string  `json:"events"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by,omitempty"`
	Notes       string    `json:"notes,omitempty"`
	Secret      string    `json:"secret,omitempty"`
}

// NewSubscription is the input of Subscribe.
type NewSubscription struct {
	URL         string   `json:"url"`
	AppName     string   `json:"app_name"`
	Environment string   `json:"environment"`
	Secret      string   `json:"secret,omitempty"` // empty: one is generated and returned once
	Events      []string `json:"events,omitempty"` // empty: every event
	Notes       string   `json:"notes,omitempty"`
}

// Attempt is one try at a delivery.
type Attempt struct {
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// Delivery is one event for one subscriber.
type Delivery struct {
	ID             int64      `json:"id"`
	SubscriptionID string     `json:"subscription_id"`
	Event          string     `json:"event"`
	Version        string     `json:"version"`
	Status         string     `json:"status"` // pending, delivered, failed
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	AttemptLog     []Attempt  `json:"attempt_log"`
	CreatedAt      time.Time  `json:"created_at"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
}

// Options tune the dispatcher. Zero values take the defaults in New.
type Options struct {
	BaseBackoff time.Duration // first retry delay (default 5 s), doubled per attempt
	MaxBackoff  time.Duration // cap on one delay (default 1 h)
	GiveUpAfter time.Duration // stop retrying this long after the event (default 24 h)
	Poll        time.Duration // how often the worker looks for due deliveries (default 1 s)
	Timeout     time.Duration // per attempt (default 10 s)
	Lease       time.Duration // how long a claimed attempt may run before another replica retries it (default 1 min)
	Now         func() time.Time
}

// Dispatcher stores subscriptions and delivers events.
type Dispatcher struct {
	db   *gorm.DB
	http *http.Client
	log  *slog.Logger
	opt  Options

	wake chan struct{}
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New returns a Dispatcher; Start runs its worker.
func New(d *db.DB, client *http.Client, log *slog.Logger, opt Options) *Dispatcher {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opt.BaseBackoff, 5*time.Second)
	def(&opt.MaxBackoff, time.Hour)
	def(&opt.GiveUpAfter, 24*time.Hour)
	def(&opt.Poll, time.Second)
	def(&opt.Timeout, 10*time.Second)
	def(&opt.Lease, time.Minute)
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Dispatcher{db: d.Gorm, http: client, log: log, opt: opt, wake: make(chan struct{}, 1)}
}

func (d *Dispatcher) now() time.Time { return d.opt.Now().UTC() }

// Subscribe registers a receiver. The URL must be absolute http(s).
func (d *Dispatcher) Subscribe(ctx context.Context, in NewSubscription, actor string) (Subscription, error) {
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Subscription{}, apierr.Field("url", "must be an absolute http or https URL")
	}
	if in.AppName == "" || len(in.AppName) > 50 {
		return Subscription{}, apierr.Field("app_name", "is required (at most 50 characters)")
	}
	if in.Environment == "" || len(in.Environment) > 20 {
		return Subscription{}, apierr.Field("environment", "is required (at most 20 characters)")
	}
	events := in.Events
	if len(events) == 0 {
		events = []string{EventActivated, EventRolledBack}
	}
	for _, e := range events {
		if e != EventActivated && e != EventRolledBack {
			return Subscription{}, apierr.Field("events", "unknown event %q (want %s or %s)", e, EventActivated, EventRolledBack)
		}
	}
	secret := in.Secret
	if secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		secret = "whsec_" + base64.RawURLEncoding.EncodeToString(b[:])
	} else if len(secret) < 16 {
		return Subscription{}, apierr.Field("secret", "must be at least 16 characters")
	}
	evJSON, _ := json.Marshal(events)
	row := subscriptionRow{
		ID: uuid.NewString(), URL: u.String(), AppName: in.AppName, Environment: in.Environment,
		Secret: secret, Events: string(evJSON), IsActive: true, CreatedAt: d.now(), CreatedBy: actor, Notes: in.Notes,
	}
	if err := d.db.WithContext(ctx).Create(&row).Error; err != nil {
		return Subscription{}, fmt.Errorf("storing webhook subscription: %w", err)
	}
	s := row.public()
	s.Secret = secret
	return s, nil
}

// Subscriptions lists every subscription, newest first, without secrets.
func (d *Dispatcher) Subscriptions(ctx context.Context) ([]Subscription, error) {
	var rows []subscriptionRow
	if err := d.db.WithContext(ctx).Order("created_at DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("listing webhook subscriptions: %w", err)
	}
	out := make([]Subscription, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.public())
	}
	return out, nil
}

// Unsubscribe deactivates a subscription; its history stays.
func (d *Dispatcher) Unsubscribe(ctx context.Context, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return apierr.Field("id", "is not a subscription id")
	}
	res := d.db.WithContext(ctx).Model(&subscriptionRow{}).Where("id = ?", id).Update("is_active", false)
	if res.Error != nil {
		return fmt.Errorf("deactivating webhook subscription: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return apierr.New(apierr.NotFound, "no webhook subscription %s", id)
	}
	return nil
}

// Publish records a delivery of ev for every active subscriber of its
// type and wakes the worker. It returns how many deliveries were queued.
func (d *Dispatcher) Publish(ctx context.Context, ev Event) (int, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	subs, err := d.activeFor(ctx, ev.Event)
	if err != nil {
		return 0, err
	}
	now := d.now()
	for _, s := range subs {
		row := deliveryRow{
			SubscriptionID: s.ID, Event: ev.Event, VersionName: ev.Version, Payload: string(body),
			Status: statusPending, NextAttemptAt: &now, AttemptLog: "[]", CreatedAt: now,
		}
		if err := d.db.WithContext(ctx).Create(&row).Error; err != nil {
			return 0, fmt.Errorf("queueing webhook delivery: %w", err)
		}
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return len(subs), nil
}

func (d *Dispatcher) activeFor(ctx context.Context, event string) ([]subscriptionRow, error) {
	var rows []subscriptionRow
	if err := d.db.WithContext(ctx).Where("is_active = ?", true).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("loading webhook subscriptions: %w", err)
	}
	var out []subscriptionRow
	for _, r := range rows {
		var events []string
		_ = json.Unmarshal([]byte(r.Events), &events)
		for _, e := range events {
			if e == event {
				out = append(out, r)
				break
			}
		}
	}
	return out, nil
}

// DeliveryFilter narrows Deliveries.
type DeliveryFilter struct {
	SubscriptionID string
	Status         string
	Limit          int
}

// Deliveries lists deliveries, newest first.
func (d *Dispatcher) Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	q := d.db.WithContext(ctx).Order("id DESC")
	if f.SubscriptionID != "" {
		if _, err := uuid.Parse(f.SubscriptionID); err != nil {
			return nil, apierr.Field("subscription_id", "is not a subscription id")
		}
		q = q.Where("subscription_id = ?", f.SubscriptionID)
	}
	switch f.Status {
	case "":
	case statusPending, statusDelivered, statusFailed:
		q = q.Where("status = ?", f.Status)
	default:
		return nil, apierr.Field("status", "must be pending, delivered or failed")
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	var rows []deliveryRow
	if err := q.Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("listing webhook deliveries: %w", err)
	}
	out := make([]Delivery, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.public())
	}
	return out, nil
}

// Start runs the delivery worker until Stop.
func (d *Dispatcher) Start(ctx context.Context) {
	ctx, d.stop = context.WithCancel(context.WithoutCancel(ctx))
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(d.opt.Poll)
		defer t.Stop()
		for {
			if _, err := d.DeliverDue(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("webhook delivery round failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-d.wake:
			}
		}
	}()
}

// Stop ends the worker and waits for the attempt in flight, or ctx.
func (d *Dispatcher) Stop(ctx context.Context) error {
	if d.stop == nil {
		return nil
	}
	d.stop()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping webhook worker: %w", ctx.Err())
	}
}

// DeliverDue attempts every delivery that is due now and returns how many
// it attempted.
func (d *Dispatcher) DeliverDue(ctx context.Context) (int, error) {
	var due []deliveryRow
	err := d.db.WithContext(ctx).
		Where("status = ? AND next_attempt_at <= ?", statusPending, d.now()).
		Order("next_attempt_at").Limit(100).Find(&due).Error
	if err != nil {
		return 0, fmt.Errorf("finding due webhook deliveries: %w", err)
	}
	n := 0
	for _, row := range due {
		if ctx.Err() != nil {
			break
		}
		claimed, err := d.claim(ctx, row)
		if err != nil {
			return n, err
		}
		if !claimed {
			continue // another replica has it
		}
		// Read it again: the list is older than the claim, and another
		// replica may have attempted it in between.
		var fresh deliveryRow
		if err := d.db.WithContext(ctx).Where("id = ?", row.ID).Take(&fresh).Error; err != nil {
			return n, fmt.Errorf("reloading webhook delivery %d: %w", row.ID, err)
		}
		n++
		if err := d.attempt(ctx, fresh); err != nil {
			return n, err
		}
	}
	return n, nil
}

// claim moves the delivery's next attempt a lease into the future; only
// the replica whose UPDATE matched may send it.
func (d *Dispatcher) claim(ctx context.Context, row deliveryRow) (bool, error) {
	now := d.now()
	res := d.db.WithContext(ctx).Model(&deliveryRow{}).
		Where("id = ? AND status = ? AND next_attempt_at <= ?", row.ID, statusPending, now).
		Update("next_attempt_at", now.Add(d.opt.Lease))
	if res.Error != nil {
		return false, fmt.Errorf("claiming webhook delivery %d: %w", row.ID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

func (d *Dispatcher) attempt(ctx context.Context, row deliveryRow) error {
	var sub subscriptionRow
	if err := d.db.WithContext(ctx).Where("id = ?", row.SubscriptionID).Take(&sub).Error; err != nil {
		return fmt.Errorf("loading subscription of delivery %d: %w", row.ID, err)
	}
	start := d.now()
	code, sendErr := d.send(ctx, sub, row)
	att := Attempt{At: start, StatusCode: code, DurationMS: d.now().Sub(start).Milliseconds()}
	if sendErr != nil {
		att.Error = sendErr.Error()
	}
	var log []Attempt
	_ = json.Unmarshal([]byte(row.AttemptLog), &log)
	log = append(log, att)
	logJSON, _ := json.Marshal(log)

	updates := map[string]any{
		"attempts":         row.Attempts + 1,
		"attempt_log":      string(logJSON),
		"last_status_code": code,
		"last_error":       att.Error,
	}
	now := d.now()
	switch {
	case sendErr == nil:
		updates["status"] = statusDelivered
		updates["delivered_at"] = now
		updates["next_attempt_at"] = nil
	default:
		next := now.Add(d.backoff(row.Attempts + 1))
		if next.Sub(row.CreatedAt) > d.opt.GiveUpAfter {
			updates["status"] = statusFailed
			updates["next_attempt_at"] = nil
			d.log.Warn("webhook delivery gave up", "delivery", row.ID, "subscription", sub.ID, "attempts", row.Attempts+1, "err", sendErr)
		} else {
			updates["next_attempt_at"] = next
		}
	}
	if err := d.db.WithContext(context.WithoutCancel(ctx)).Model(&deliveryRow{}).Where("id = ?", row.ID).Updates(updates).Error; err != nil {
		return fmt.Errorf("recording webhook attempt %d: %w", row.ID, err)
	}
	return nil
}

func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := d.opt.BaseBackoff
	for i := 1; i < attempts && b < d.opt.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, d.opt.MaxBackoff)
}

// send POSTs one attempt; any status outside 2xx is a failure.
func (d *Dispatcher) send(ctx context.Context, sub subscriptionRow, row deliveryRow) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	body := []byte(row.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts := d.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ocrpool-webhook/1")
	req.Header.Set(TimestampHeader, fmt.Sprint(ts.Unix()))
	req.Header.Set(SignatureHeader, Sign(sub.Secret, ts, body))
	req.Header.Set(EventHeader, row.Event)
	req.Header.Set(DeliveryHeader, fmt.Sprint(row.ID))
	resp, err := d.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return 0, ue.Err // drop the "Post URL:" prefix; the URL is stored beside it
		}
		return 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("receiver answered %s: %s", resp.Status, strings.TrimSpace(string(snippet)))
	}
	return resp.StatusCode, nil
}
