package webhook

import (
	"encoding/json"
	"time"
)

const (
	statusPending   = "pending"
	statusDelivered = "delivered"
	statusFailed    = "failed"
)

type subscriptionRow struct {
	ID          string `gorm:"primaryKey"`
	URL         string
	AppName     string
	Environment string
	Secret      string
	Events      string // JSON array
	IsActive    bool
	CreatedAt   time.Time
	CreatedBy   string
	Notes       string
}

func (subscriptionRow) TableName() string { return "webhook_subscriptions" }

func (r subscriptionRow) public() Subscription {
	var events []string
	_ = json.Unmarshal([]byte(r.Events), &events)
	return Subscription{
		ID: r.ID, URL: r.URL, AppName: r.AppName, Environment: r.Environment, Events: events,
		Active: r.IsActive, CreatedAt: r.CreatedAt.UTC(), CreatedBy: r.CreatedBy, Notes: r.Notes,
	}
}

type deliveryRow struct {
	ID             int64 `gorm:"primaryKey;autoIncrement"`
	SubscriptionID string
	Event          string
	VersionName    string
	Payload        string // JSON
	Status         string
	Attempts       int
	NextAttemptAt  *time.Time
	LastStatusCode *int
	LastError      *string
	AttemptLog     string // JSON array of Attempt
	CreatedAt      time.Time
	DeliveredAt    *time.Time
}

func (deliveryRow) TableName() string { return "webhook_deliveries" }

func (r deliveryRow) public() Delivery {
	d := Delivery{
		ID: r.ID, SubscriptionID: r.SubscriptionID, Event: r.Event, Version: r.VersionName,
		Status: r.Status, Attempts: r.Attempts, NextAttemptAt: utcPtr(r.NextAttemptAt),
		CreatedAt: r.CreatedAt.UTC(), DeliveredAt: utcPtr(r.DeliveredAt), AttemptLog: []Attempt{},
	}
	if r.LastStatusCode != nil {
		d.LastStatusCode = *r.LastStatusCode
	}
	if r.LastError != nil {
		d.LastError = *r.LastError
	}
	_ = json.Unmarshal([]byte(r.AttemptLog), &d.AttemptLog)
	return d
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
