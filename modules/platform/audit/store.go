package audit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
	"github.com/ocrpool/ocrpool/modules/platform/db"
)

// row is a row of audit_log.
type row struct {
	ID           int64     `gorm:"column:id;primaryKey;autoIncrement:false"`
	Timestamp    time.Time `gorm:"column:timestamp"`
	ActorType    string    `gorm:"column:actor_type"`
	ActorID      string    `gorm:"column:actor_id"`
	Action       string    `gorm:"column:action"`
	ResourceType string    `gorm:"column:resource_type"`
	ResourceID   *string   `gorm:"column:resource_id"`
	Details      *string   `gorm:"column:details"`
	IPAddress    *string   `gorm:"column:ip_address"`
	UserAgent    *string   `gorm:"column:user_agent"`
	Success      bool      `gorm:"column:success"`
	ErrorMessage *string   `gorm:"column:error_message"`
	PrevHash     *string   `gorm:"column:prev_hash"`
	RowHash      *string   `gorm:"column:row_hash"`
}

func (row) TableName() string { return "audit_log" }

// chainLockClass is the first key of the PostgreSQL advisory lock that
// serialises the chain; the second is the hash of the schema, so test
// schemas sharing a database do not wait for each other.
const chainLockClass = 1869770597

// insert appends rows to the chain in one transaction: it takes the chain
// lock, reads the last row's hash, gives the rows ids above it, hashes
// them in order and inserts them. On error nothing is written and rows can
// be passed again.
func insert(ctx context.Context, d *db.DB, rows []row) error {
	return d.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if d.Dialect == db.Postgres {
			if err := tx.Exec(fmt.Sprintf("SELECT pg_advisory_xact_lock(%d, hashtext(current_schema()))", chainLockClass)).Error; err != nil {
				return err
			}
		}
		var last struct {
			ID      int64
			RowHash *string
		}
		if err := tx.Raw("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1").Scan(&last).Error; err != nil {
			return err
		}
		prev := genesis
		if last.ID != 0 {
			prev = deref(last.RowHash)
		}
		ids := make([]int64, 0, len(rows))
		if d.Dialect == db.Postgres {
			// Ids come from the sequence, so it stays in step; under the
			// lock they are above every committed row.
			if err := tx.Raw("SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) FROM generate_series(1, ?)", len(rows)).
				Scan(&ids).Error; err != nil {
				return err
			}
			slices.Sort(ids)
			if len(ids) != len(rows) || ids[0] <= last.ID {
				return fmt.Errorf("audit: id sequence is behind the table (next %v, last %d)", ids, last.ID)
			}
		} else {
			for i := range rows {
				ids = append(ids, last.ID+1+int64(i))
			}
		}
		for i := range rows {
			rows[i].ID = ids[i]
			p := prev
			rows[i].PrevHash = &p
			h := chainHash(prev, &rows[i])
			rows[i].RowHash = &h
			prev = h
		}
		return tx.CreateInBatches(&rows, insertChunk(d.Dialect)).Error
	})
}

// insertChunk is how many rows one INSERT carries. PostgreSQL takes the
// whole batch in one statement (one round trip). The SQLite driver binds
// parameters in time quadratic in their number, so there short statements
// in the one transaction are much cheaper than a long one.
func insertChunk(d db.Dialect) int {
	if d == db.SQLite {
		return 8
	}
	return maxBatch
}

// Entry is an audit row as the API and CLI show it.
type Entry struct {
	ID           int64           `json:"id"`
	Timestamp    time.Time       `json:"timestamp"`
	ActorType    string          `json:"actor_type"`
	ActorID      string          `json:"actor_id"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id,omitempty"`
	Details      json.RawMessage `json:"details,omitempty"`
	IPAddress    string          `json:"ip_address,omitempty"`
	UserAgent    string          `json:"user_agent,omitempty"`
	Success      bool            `json:"success"`
	ErrorMessage string          `json:"error_message,omitempty"`
	RowHash      string          `json:"row_hash"`
}

func (r row) entry() Entry {
	e := Entry{
		ID: r.ID, Timestamp: r.Timestamp.UTC(), ActorType: r.ActorType, ActorID: r.ActorID,
		Action: r.Action, ResourceType: r.ResourceType, ResourceID: deref(r.ResourceID),
		IPAddress: canonIP(deref(r.IPAddress)), UserAgent: deref(r.UserAgent),
		Success: r.Success, ErrorMessage: deref(r.ErrorMessage), RowHash: deref(r.RowHash),
	}
	if d := canonicalJSON(deref(r.Details)); d != "" {
		e.Details = json.RawMessage(d)
	}
	return e
}

// Query selects audit rows. Empty fields do not filter.
type Query struct {
	ActorType    string
	ActorID      string
	Action       string
	ResourceType string
	ResourceID   string
	// Since is inclusive, Until exclusive.
	Since, Until *time.Time
	Success      *bool
	// Limit is 1..MaxLimit; 0 means DefaultLimit.
	Limit int
	// Cursor is a Page's NextCursor, for the page after it.
	Cursor string
}

// Page limits.
const (
	DefaultLimit = 100
	MaxLimit     = 500
)

// Page is one page of List, newest first.
type Page struct {
	Entries []Entry `json:"entries"`
	// NextCursor fetches the next (older) page; "" on the last page.
	NextCursor string `json:"next_cursor"`
}

const cursorVersion = "v1:"

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + strconv.FormatInt(id, 10)))
}

func decodeCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		if rest, ok := strings.CutPrefix(string(b), cursorVersion); ok {
			if id, err := strconv.ParseInt(rest, 10, 64); err == nil && id > 0 {
				return id, nil
			}
		}
	}
	return 0, apierr.Field("cursor", "is not a cursor this server returned")
}

// List returns the rows q selects, newest first. A bad limit or cursor is
// an Invalid *apierr.Error naming the field.
func List(ctx context.Context, d *db.DB, q Query) (Page, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return Page{}, apierr.Field("limit", "must be between 1 and %d", MaxLimit)
	}
	g := d.Gorm.WithContext(ctx).Model(&row{})
	for _, f := range []struct{ col, v string }{
		{"actor_type", q.ActorType}, {"actor_id", q.ActorID}, {"action", q.Action},
		{"resource_type", q.ResourceType}, {"resource_id", q.ResourceID},
	} {
		if f.v != "" {
			g = g.Where(f.col+" = ?", f.v)
		}
	}
	if q.Since != nil {
		g = g.Where(`"timestamp" >= ?`, q.Since.UTC())
	}
	if q.Until != nil {
		g = g.Where(`"timestamp" < ?`, q.Until.UTC())
	}
	if q.Success != nil {
		g = g.Where("success = ?", *q.Success)
	}
	if q.Cursor != "" {
		id, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		g = g.Where("id < ?", id)
	}
	var rows []row
	if err := g.Order("id DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return Page{}, fmt.Errorf("audit: listing rows: %w", err)
	}
	p := Page{Entries: make([]Entry, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			p.NextCursor = encodeCursor(rows[limit-1].ID)
			break
		}
		p.Entries = append(p.Entries, r.entry())
	}
	return p, nil
}

// Report is what Verify found.
type Report struct {
	// Rows is how many rows were checked.
	Rows int64
	// HeadID and Head are the last row's id and hash: keep a copy
	// elsewhere to detect rows deleted at the tail later.
	HeadID int64
	Head   string
	// BrokenAt is the id of the first row that does not match; 0 when
	// the chain is intact. Reason says how it does not match.
	BrokenAt int64
	Reason   string
}

// OK reports whether the chain is intact.
func (r Report) OK() bool { return r.BrokenAt == 0 }

// verifyPage is how many rows Verify reads at a time.
const verifyPage = 1000

// Verify walks the chain in id order and stops at the first broken link.
// A broken chain is a Report with BrokenAt set, not an error; errors are
// the database's.
func Verify(ctx context.Context, d *db.DB) (Report, error) {
	rep := Report{Head: genesis}
	prev := genesis
	var after int64
	for {
		var rows []row
		if err := d.Gorm.WithContext(ctx).Where("id > ?", after).Order("id").Limit(verifyPage).Find(&rows).Error; err != nil {
			return rep, fmt.Errorf("audit: reading rows after %d: %w", after, err)
		}
		for i := range rows {
			r := &rows[i]
			rep.Rows++
			switch {
			case r.RowHash == nil || r.PrevHash == nil:
				rep.BrokenAt, rep.Reason = r.ID, "row has no hash (written outside the audit logger)"
			case *r.PrevHash != prev:
				rep.BrokenAt, rep.Reason = r.ID, "prev_hash does not match the row before it (a row was deleted, inserted or its hash changed)"
			case chainHash(prev, r) != *r.RowHash:
				rep.BrokenAt, rep.Reason = r.ID, "content does not match row_hash (the row was changed)"
			}
			if rep.BrokenAt != 0 {
				return rep, nil
			}
			prev = *r.RowHash
			rep.HeadID, rep.Head = r.ID, prev
		}
		if len(rows) < verifyPage {
			return rep, nil
		}
		after = rows[len(rows)-1].ID
	}
}
