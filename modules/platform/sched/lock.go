package sched

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// ErrLockHeld is returned (wrapped) by the Redis locker's Lock when another
// holder has the job's key: the run is skipped, which is the normal outcome
// on every replica but one.
var ErrLockHeld = errors.New("sched: lock held by another holder")

// ErrLockLost is returned (wrapped) by Unlock when the key expired or now
// belongs to someone else; the other holder's lock is left alone.
var ErrLockLost = errors.New("sched: lock no longer held")

const (
	// defaultLockTTL applies when NewRedisLocker gets a non-positive ttl.
	defaultLockTTL = time.Minute
	// defaultTickGuard applies when the Lock context carries no guard, i.e.
	// when the locker is handed to gocron directly rather than through
	// Scheduler.Add. It tolerates a second of skew between replicas and is
	// only right for jobs that run less often than every two seconds.
	defaultTickGuard = time.Second
	// unlockTimeout bounds the release, which runs on a context detached
	// from the (possibly cancelled) job context.
	unlockTimeout = 5 * time.Second
)

// Why the lock is not simply deleted on Unlock
//
// gocron takes the lock with the job's name as key when a tick fires and
// releases it when the run ends. Replicas fire the "same" tick at slightly
// different instants (clock skew, timer jitter, GC). If the release deleted
// the key, a fast job on the early replica would be done and unlocked before
// the late replica fires, and the late replica would take the free key and
// run the same tick again.
//
// So a release keeps the key alive as a tick guard until guard has passed
// since acquisition (PEXPIRE to the remaining guard, never lengthening it),
// and deletes it only when the run already took longer than that. The guard
// is the skew tolerated between replicas, and must be shorter than the gap
// to the next tick minus that skew, or the next tick would be refused too:
// Scheduler.Add passes half the job's interval (capped at maxTickGuard),
// which tolerates skew of up to half an interval either way.
//
// The alternative, a key per scheduled tick, would need the tick time, which
// gocron does not hand to the Locker, and would let a slow run of one tick
// overlap the next tick's run on another replica; a key per job keeps runs
// mutually exclusive across replicas as well as once per tick.
//
// While held, the key is refreshed every third of its TTL, so a run longer
// than the TTL keeps its lock, yet a crashed holder's lock lapses within a
// TTL. Unlock checks the random token (Lua, atomically) so a holder whose
// key expired never shortens or deletes the lock of whoever took it next.

// tickGuardKey carries a job's tick guard to Lock through the context gocron
// passes (the only per-call channel its Locker interface has). A context
// survives wrapping lockers, which an interface assertion would not.
type tickGuardKey struct{}

func withTickGuard(ctx context.Context, guard time.Duration) context.Context {
	return context.WithValue(ctx, tickGuardKey{}, guard)
}

func tickGuardFrom(ctx context.Context) (time.Duration, bool) {
	g, ok := ctx.Value(tickGuardKey{}).(time.Duration)
	return g, ok
}

// guardedLocker hands a job's tick guard to the locker it wraps.
type guardedLocker struct {
	inner gocron.Locker
	guard time.Duration
}

func (g guardedLocker) Lock(ctx context.Context, key string) (gocron.Lock, error) {
	return g.inner.Lock(withTickGuard(ctx, g.guard), key)
}

// refreshLua extends the key only while it still holds our token.
const refreshLua = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("PEXPIRE", KEYS[1], ARGV[2])
return 1`

// releaseLua acts only while the key still holds our token: with a positive
// guard it shortens the key's life to the guard (never lengthens it), with
// none left it deletes the key.
const releaseLua = `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
local keep = tonumber(ARGV[2])
if keep <= 0 then
  redis.call("DEL", KEYS[1])
  return 1
end
local pttl = redis.call("PTTL", KEYS[1])
if pttl < 0 or pttl > keep then redis.call("PEXPIRE", KEYS[1], keep) end
return 1`

type redisLocker struct {
	rdb     redis.UniversalClient
	prefix  string
	ttl     time.Duration
	refresh *redis.Script
	release *redis.Script
}

// NewRedisLocker returns a gocron.Locker over go-redis that runs a job once
// per tick across replicas (see the note above). Keys are prefix+job name,
// so prefix should end with a separator, e.g. cache.Key("sched", "lock")+":".
// ttl is how long a lock outlives a crashed holder; non-positive means one
// minute.
func NewRedisLocker(rdb redis.UniversalClient, prefix string, ttl time.Duration) gocron.Locker {
	if ttl <= 0 {
		ttl = defaultLockTTL
	}
	return &redisLocker{
		rdb:     rdb,
		prefix:  prefix,
		ttl:     ttl,
		refresh: redis.NewScript(refreshLua),
		release: redis.NewScript(releaseLua),
	}
}

// Lock takes the job's key with SET NX and a random token, or fails with
// ErrLockHeld when another replica has it (or still guards its tick).
func (l *redisLocker) Lock(ctx context.Context, name string) (gocron.Lock, error) {
	guard, ok := tickGuardFrom(ctx)
	if !ok {
		guard = defaultTickGuard
	}
	// The key must live at least as long as the guard even if the holder
	// dies mid-run, so the tick stays covered.
	life := max(l.ttl, guard)
	key := l.prefix + name
	token := uuid.NewString()

	won, err := l.rdb.SetNX(ctx, key, token, life).Result()
	if err != nil {
		return nil, fmt.Errorf("sched: lock %s: %w", key, err)
	}
	if !won {
		return nil, fmt.Errorf("sched: lock %s: %w", key, ErrLockHeld)
	}
	lk := &redisLock{
		locker:   l,
		key:      key,
		token:    token,
		life:     life,
		guard:    guard,
		acquired: time.Now(),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go lk.keepAlive()
	return lk, nil
}

type redisLock struct {
	locker   *redisLocker
	key      string
	token    string
	life     time.Duration
	guard    time.Duration
	acquired time.Time

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// keepAlive re-arms the key's TTL while the run goes on. It stops on Unlock
// or once the key is found to belong to someone else; a failed refresh is
// retried at the next beat, as the key still has two thirds of its life.
func (lk *redisLock) keepAlive() {
	defer close(lk.done)
	every := lk.life / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-lk.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			n, err := lk.locker.refresh.Run(ctx, lk.locker.rdb, []string{lk.key}, lk.token, lk.life.Milliseconds()).Int()
			cancel()
			if err == nil && n == 0 {
				return
			}
		}
	}
}

// Unlock ends the hold: the key is kept until the tick guard has passed since
// acquisition, then expires; a run that outlasted the guard deletes it. It
// fails with ErrLockLost, and touches nothing, when the key is no longer ours.
func (lk *redisLock) Unlock(ctx context.Context) error {
	lk.stopOnce.Do(func() { close(lk.stop) })
	<-lk.done

	// gocron passes the job's context, which is cancelled when the scheduler
	// shuts down; the release must still reach Redis or the next start of
	// the process would wait out the TTL.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()

	keep := lk.guard - time.Since(lk.acquired)
	keepMS := keep.Milliseconds()
	if keep > 0 && keepMS == 0 {
		keepMS = 1 // a sub-millisecond remainder still guards, not deletes
	}
	n, err := lk.locker.release.Run(ctx, lk.locker.rdb, []string{lk.key}, lk.token, keepMS).Int()
	if err != nil {
		return fmt.Errorf("sched: unlock %s: %w", lk.key, err)
	}
	if n == 0 {
		return fmt.Errorf("sched: unlock %s: %w", lk.key, ErrLockLost)
	}
	return nil
}
