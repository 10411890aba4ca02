package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TableDDL creates the table the application stand-in writes to. It has a
// primary key because Bucardo replicates only tables that have one, and it
// must exist on the seed site before Bucardo is set up, because Bucardo
// replicates the tables that exist at that moment.
const TableDDL = `CREATE TABLE IF NOT EXISTS hagen_probe (
    id     text        PRIMARY KEY,
    site   text        NOT NULL,
    client text        NOT NULL,
    value  bigint      NOT NULL DEFAULT 0,
    at     timestamptz NOT NULL DEFAULT clock_timestamp()
)`

// Row is one row of hagen_probe as /read returns it.
type Row struct {
	ID    string `json:"id"`
	Site  string `json:"site"`
	Value int64  `json:"value"`
}

// Store is what the HTTP handlers need from the database.
type Store interface {
	// Ping fails when the database does not answer.
	Ping(ctx context.Context) error
	// Insert commits one row; ErrDuplicate when the id exists.
	Insert(ctx context.Context, id, site, client string) error
	// Update sets the value of a row; ErrNotFound when there is none.
	Update(ctx context.Context, id string, value int64) error
	// Read returns a row; ErrNotFound when there is none.
	Read(ctx context.Context, id string) (Row, error)
}

var (
	ErrNotFound  = errors.New("no such row")
	ErrDuplicate = errors.New("id exists")
)

// DBConfig says where the stand-in's database is. Password is never
// logged or put into a connection string.
type DBConfig struct {
	Host     string
	Port     int
	Name     string
	User     string
	Password string
	// Timeout bounds connecting; zero means 2 s.
	Timeout time.Duration
}

// String describes the database without the password.
func (c DBConfig) String() string {
	return fmt.Sprintf("postgres://%s@%s/%s", c.User, net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.Name)
}

// PGStore is the Store on PostgreSQL, through a pgx pool that connects
// lazily and replaces broken connections, so the server starts while its
// database is down and recovers by itself when it comes back.
type PGStore struct {
	pool *pgxpool.Pool
}

// NewPGStore configures the pool; it does not connect.
func NewPGStore(c DBConfig) (*PGStore, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	cfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cc := cfg.ConnConfig
	cc.Host = c.Host
	cc.Port = uint16(c.Port)
	cc.Database = c.Name
	cc.User = c.User
	cc.Password = c.Password
	cc.ConnectTimeout = timeout
	cc.TLSConfig = nil
	cc.Fallbacks = nil
	cc.RuntimeParams = map[string]string{"application_name": "hagen-probe"}
	// Simple protocol: no prepared statements to lose when a connection
	// is replaced after a database restart.
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.MaxConns = 8
	cfg.MinConns = 0
	cfg.HealthCheckPeriod = time.Second
	cfg.MaxConnIdleTime = 30 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	return &PGStore{pool: pool}, nil
}

// Close closes the pool.
func (s *PGStore) Close() { s.pool.Close() }

func (s *PGStore) Ping(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, "SELECT 1")
	return err
}

func (s *PGStore) Insert(ctx context.Context, id, site, client string) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO hagen_probe (id, site, client, value) VALUES ($1, $2, $3, 0)", id, site, client)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return ErrDuplicate
	}
	return err
}

func (s *PGStore) Update(ctx context.Context, id string, value int64) error {
	tag, err := s.pool.Exec(ctx, "UPDATE hagen_probe SET value = $2, at = clock_timestamp() WHERE id = $1", id, value)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *PGStore) Read(ctx context.Context, id string) (Row, error) {
	var r Row
	err := s.pool.QueryRow(ctx, "SELECT id, site, value FROM hagen_probe WHERE id = $1", id).Scan(&r.ID, &r.Site, &r.Value)
	if errors.Is(err, pgx.ErrNoRows) {
		return Row{}, ErrNotFound
	}
	return r, err
}
