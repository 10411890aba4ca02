package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hagen-ha/hagen/contract"
)

// Limits of the agent's database use. They are fixed: the agent's load on
// the database must not depend on how many clients ask it.
const (
	// poolSize is the most database connections the agent holds: one for
	// the status probe (single-flight, see statusCache) and one for the
	// sync keeper's change. The role's CONNECTION LIMIT
	// (contract.AgentRoleConnectionLimit) enforces it in PostgreSQL too.
	poolSize = 2
	// statementTimeout bounds every statement of the agent's sessions.
	statementTimeout = time.Second
	// connIdle closes a connection unused this long; connLife closes one
	// this old at its next use (it picks up a changed role or setting).
	connIdle = 30 * time.Second
	connLife = 10 * time.Minute
)

// pool is the agent's one small set of database connections, reused
// across probes. A connection that saw an error is closed, not reused.
type pool struct {
	dial  func(ctx context.Context) (*pgx.Conn, error)
	slots chan struct{} // one token per connection that may be open
	now   func() time.Time

	mu   sync.Mutex
	idle []*pooled

	opened atomic.Int64 // connections opened so far (tests, log)
}

type pooled struct {
	conn    *pgx.Conn
	born    time.Time
	lastUse time.Time
}

// newPool connects as db says: over TCP or the Unix socket (Host a
// directory), with a password when db names one, each session limited by
// statement, lock and idle-in-transaction timeouts.
func newPool(db contract.AgentDatabase) *pool {
	p := &pool{slots: make(chan struct{}, poolSize), now: time.Now}
	p.dial = func(ctx context.Context) (*pgx.Conn, error) {
		cfg, err := connConfig(db)
		if err != nil {
			return nil, err
		}
		return pgx.ConnectConfig(ctx, cfg)
	}
	return p
}

// connConfig is the pgx configuration of one agent session.
func connConfig(db contract.AgentDatabase) (*pgx.ConnConfig, error) {
	pw, err := db.Password()
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=%s connect_timeout=%d",
		quoteConnValue(db.Host), db.Port, quoteConnValue(db.User), quoteConnValue(db.Name), db.SSLMode, db.ConnectTimeout))
	if err != nil {
		return nil, err
	}
	cfg.Password = pw
	cfg.RuntimeParams["application_name"] = "hagen-agent"
	cfg.RuntimeParams["statement_timeout"] = fmt.Sprint(statementTimeout.Milliseconds())
	cfg.RuntimeParams["lock_timeout"] = fmt.Sprint(statementTimeout.Milliseconds())
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = "5000"
	// One round trip per statement and no prepared statements to go stale
	// across a promotion: the agent's statements take no parameters.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return cfg, nil
}

// quoteConnValue quotes a value for a libpq key=value connection string.
func quoteConnValue(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

// acquire returns a connection, reused when one is idle, and a release
// function: release(err) keeps the connection for reuse only when err is
// nil. fresh says whether the connection was opened for this call.
func (p *pool) acquire(ctx context.Context) (conn *pgx.Conn, fresh bool, release func(error), err error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, nil, fmt.Errorf("waiting for a database connection: %w", ctx.Err())
	}
	now := p.now()
	var pc *pooled
	p.mu.Lock()
	for len(p.idle) > 0 && pc == nil {
		last := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if last.conn.IsClosed() || now.Sub(last.lastUse) > connIdle || now.Sub(last.born) > connLife {
			go last.conn.Close(context.Background())
			continue
		}
		pc = last
	}
	p.mu.Unlock()
	if pc == nil {
		c, err := p.dial(ctx)
		if err != nil {
			<-p.slots
			return nil, false, nil, err
		}
		p.opened.Add(1)
		pc, fresh = &pooled{conn: c, born: now}, true
	}
	release = func(err error) {
		if err != nil || pc.conn.IsClosed() {
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			pc.conn.Close(closeCtx)
			cancel()
		} else {
			pc.lastUse = p.now()
			p.mu.Lock()
			p.idle = append(p.idle, pc)
			p.mu.Unlock()
		}
		<-p.slots
	}
	return pc.conn, fresh, release, nil
}

// closeIdle closes every idle connection (at shutdown).
func (p *pool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, pc := range idle {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		pc.conn.Close(ctx)
		cancel()
	}
}

// reapIdle closes connections idle longer than connIdle, every period,
// until ctx ends: a quiet agent holds no session.
func (p *pool) reapIdle(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.closeIdle()
			return
		case <-t.C:
		}
		now := p.now()
		p.mu.Lock()
		var keep, stale []*pooled
		for _, pc := range p.idle {
			if now.Sub(pc.lastUse) > connIdle || pc.conn.IsClosed() {
				stale = append(stale, pc)
			} else {
				keep = append(keep, pc)
			}
		}
		p.idle = keep
		p.mu.Unlock()
		for _, pc := range stale {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			pc.conn.Close(cctx)
			cancel()
		}
	}
}
