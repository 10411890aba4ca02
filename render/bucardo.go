package render

import (
	"fmt"
	"strings"

	"github.com/hagen-ha/hagen/contract"
	"github.com/hagen-ha/hagen/internal/budget"
	"github.com/hagen-ha/hagen/schema"
)

// bucardoComponent is Bucardo's multi-master replication. Its files, only
// on the site that runs the replication service, in
// DIR/<site>/bucardo/ (mounted read-only at /etc/hagen/bucardo):, only on the site that runs the replication service, in
// DIR/<site>/bucardo/ (mounted read-only at /etc/hagen/bucardo):
//
//   - initial.json: the guide's first phase, a one-time copy from the seed
//     site to every other site;
//   - bucardo.json: the guide's second phase, the master-master sync;
//   - apply.sh PHASE_FILE: configures Bucardo from a phase file;
//   - run.sh: the postgres_replication container's entrypoint.
//
// The phase files keep the guide's keys (databases: id, dbname, host, user,
// pass; syncs: sources, targets, tables, onetimecopy) and add, per sync:
//
//   - name: the Bucardo sync name (also its relgroup's name);
//   - conflict_strategy: Bucardo's conflict_strategy for a sync with more
//     than one source;
//   - checktime: seconds after which Bucardo runs the sync even when no
//     change was signalled (absent: only on changes); the watchdog relies
//     on it to tell an idle sync from a stalled one.
//
// pass is a reference, never a value: "env:NAME" is the variable NAME of
// the replication container (read with lib/hagen.sh's secret, so NAME_FILE
// works too), "file:PATH" a file inside it. host is the guide's
// "<host> port=<port>", with " sslmode=require" appended when
// security.ssl is on.
type bucardoComponent struct{}

const (
	// svcBucardo is the compose service of the replication.
	svcBucardo = "postgres_replication"
	bucData    = "/var/lib/bucardo"
	bucConfDir = etcDir + "/bucardo"
	// Bucardo's own control database: a small cluster of the replication
	// container, in its volume, on a Unix socket only.
	bucCtlData = bucData + "/pg"
	bucCtlSock = "/var/run/bucardo"
	bucRunDir  = "/run/hagen/bucardo"
	bucPGPass  = bucRunDir + "/pgpass"
	// bucConfigured marks a completed first start: later starts only start
	// Bucardo.
	bucConfigured = bucData + "/hagen.configured"

	bucInitialSync = "initial_copy"
	bucMainSync    = "sync0"
	// bucStatusEvery is how often run.sh prints `bucardo status`, seconds.
	bucStatusEvery = 30
	// bucMaxKickWait bounds how long the watchdog waits for a kicked sync.
	bucMaxKickWait = 60
)

// bucardoPhase is one phase file.
type bucardoPhase struct {
	Databases []bucardoDB   `json:"databases"`
	Syncs     []bucardoSync `json:"syncs"`
}

type bucardoDB struct {
	ID     int    `json:"id"`
	DBName string `json:"dbname"`
	Host   string `json:"host"`
	User   string `json:"user"`
	Pass   string `json:"pass"`
}

type bucardoSync struct {
	Sources          []int         `json:"sources"`
	Targets          []int         `json:"targets"`
	Tables           schema.Tables `json:"tables"`
	Onetimecopy      int           `json:"onetimecopy"`
	Name             string        `json:"name"`
	ConflictStrategy string        `json:"conflict_strategy,omitempty"`
	Checktime        int           `json:"checktime,omitempty"`
}

type bucardoSiteView struct {
	Name string
	ID   int
	Host string
	Port int
	Seed bool
}

type bucardoRunView struct {
	Header      string
	Site        string
	PGBin       string
	ConfDir     string
	CtlData     string
	CtlSock     string
	PGPass      string
	Configured  string
	Database    string
	Superuser   string
	SSLMode     string
	Sites       []bucardoSiteView
	Seed        bucardoSiteView
	InitialSync string
	MainSync    string
	StatusEvery int
	Watchdog    bool
	Interval    int
	StallAfter  int
	KickWait    int
}

type bucardoApplyView struct {
	Header  string
	Site    string
	PGBin   string
	CtlSock string
	RunDir  string
	PGPass  string
}

func (bucardoComponent) packages() hostPackages {
	return hostPackages{Packages: []string{"postgresql-plperl-%d", "bucardo"}}
}

func (bucardoComponent) site(v *siteView) {
	bc := v.T.Database.Bucardo
	if bc == nil {
		return
	}
	v.rb.Seed = bc.SeedSite == v.Site.Name
	v.rb.Empty = !v.rb.Seed
	v.rb.Bucardo = v.Bucardo
	if !v.Bucardo {
		return
	}
	db := v.T.Database
	hdr := header(v.Spec, "#")

	var dbs []bucardoDB
	var all, others []int
	seed := v.d.site(bc.SeedSite)
	run := bucardoRunView{
		Header:      hdr,
		Site:        v.Site.Name,
		PGBin:       pgBin(db.Version),
		ConfDir:     bucConfDir,
		CtlData:     bucCtlData,
		CtlSock:     bucCtlSock,
		PGPass:      bucPGPass,
		Configured:  bucConfigured,
		Database:    db.Name,
		Superuser:   db.Superuser,
		SSLMode:     sslMode(v.T),
		InitialSync: bucInitialSync,
		MainSync:    bucMainSync,
		StatusEvery: bucStatusEvery,
		Watchdog:    bc.Watchdog.Enabled,
		Interval:    bc.Watchdog.Interval,
		StallAfter:  bc.Watchdog.StallAfter,
		KickWait:    min(bc.Watchdog.StallAfter, bucMaxKickWait),
	}
	for _, s := range v.T.Sites {
		host := fmt.Sprintf("%s port=%d", s.Host, db.PublishedPort)
		if v.T.Security.SSL {
			host += " sslmode=require"
		}
		dbs = append(dbs, bucardoDB{
			ID:     s.Index,
			DBName: db.Name,
			Host:   host,
			User:   db.Superuser,
			// The replication container receives the superuser's password
			// as POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), whatever
			// the spec's reference is.
			Pass: "env:" + secretDBPassword,
		})
		all = append(all, s.Index)
		sv := bucardoSiteView{Name: s.Name, ID: s.Index, Host: s.Host, Port: db.PublishedPort, Seed: s.Name == seed.Name}
		if sv.Seed {
			run.Seed = sv
		} else {
			others = append(others, s.Index)
		}
		run.Sites = append(run.Sites, sv)
	}

	initial := bucardoPhase{
		Databases: dbs,
		Syncs: []bucardoSync{{
			Sources:     []int{seed.Index},
			Targets:     others,
			Tables:      bc.Tables,
			Onetimecopy: 1,
			Name:        bucInitialSync,
		}},
	}
	main := bucardoPhase{
		Databases: dbs,
		Syncs: []bucardoSync{{
			Sources:          all,
			Targets:          []int{},
			Tables:           bc.Tables,
			Onetimecopy:      0,
			Name:             bucMainSync,
			ConflictStrategy: bc.ConflictStrategy,
		}},
	}
	if bc.Watchdog.Enabled {
		// Half the stall limit: an idle but healthy sync runs often enough
		// that the watchdog never takes it for a stalled one.
		main.Syncs[0].Checktime = max(1, bc.Watchdog.StallAfter/2)
	}
	v.d.b.json(v.path("bucardo/initial.json"), contract.ReaderBucardo, initial)
	v.d.b.json(v.path("bucardo/bucardo.json"), contract.ReaderBucardo, main)
	v.file("bucardo/apply.sh", 0o755, contract.ReaderShell, "site/bucardo/apply.sh.tmpl", bucardoApplyView{
		Header:  hdr,
		Site:    v.Site.Name,
		PGBin:   pgBin(db.Version),
		CtlSock: bucCtlSock,
		RunDir:  bucRunDir,
		PGPass:  bucPGPass,
	})
	v.file("bucardo/run.sh", 0o755, contract.ReaderShell, "site/bucardo/run.sh.tmpl", run)

	v.service(&service{
		Name:    svcBucardo,
		Unit:    "bucardo",
		Label:   "replication",
		What:    "Bucardo replication",
		Runs:    "Bucardo",
		Product: "Bucardo",
		Image:   v.T.Render.NodeImage,
		Script:  "bucardo/run.sh",
		Env:     v.nodeEnv(),
		Secrets: []secretUse{{secretDBPassword, db.Password}},
		Mounts:  []string{"bucardo", "lib"},
		Volumes: []volume{{Name: "bucardo", Target: bucData}},
		// run.sh waits for every site's database; starting after the
		// local one saves it a wait.
		DependsOn: []dependency{{Service: db.Service, Healthy: true}},
	})
}

func (bucardoComponent) tree(d *deployment) {
	bu := d.t.Database.Bucardo
	if bu == nil {
		return
	}
	d.inv.Database.BucardoSite = bu.Site
	d.inv.Database.BucardoService = svcBucardo
	d.inv.Database.ConflictStrategy = bu.ConflictStrategy

	rv := d.rv
	r := &rbBucardo{
		Service:     svcBucardo,
		Sync:        bucMainSync,
		Conflict:    bu.ConflictStrategy,
		Watchdog:    bu.Watchdog.Enabled,
		Interval:    bu.Watchdog.Interval,
		StallAfter:  bu.Watchdog.StallAfter,
		Initial:     "bucardo/initial.json",
		Final:       "bucardo/bucardo.json",
		InitialIn:   bucConfDir + "/initial.json",
		FinalIn:     bucConfDir + "/bucardo.json",
		Apply:       bucConfDir + "/apply.sh",
		RunScript:   "bucardo/run.sh",
		InitialSync: bucInitialSync,
		PGPass:      bucPGPass,
		Configured:  bucConfigured,
		StatusEvery: bucStatusEvery,
		TablesAll:   bu.Tables.All,
		Tables:      strings.Join(bu.Tables.List, ", "),
	}
	for _, s := range rv.Sites {
		r.DBs = append(r.DBs, rbBucardoDB{ID: fmt.Sprintf("db%d", s.Index), Site: s})
		switch {
		case s.Bucardo && s.Seed:
			r.Site, r.Seed = s, s
		case s.Bucardo:
			r.Site = s
			r.Targets = append(r.Targets, s)
		case s.Seed:
			r.Seed = s
		default:
			r.Targets = append(r.Targets, s)
		}
	}
	rv.MultiMaster = true
	rv.Bucardo = r
	for _, s := range rv.Sites {
		rv.installNote(s, "runbook/bucardo-install.md.tmpl")
	}
	rv.section(slotSetup, "runbook/bucardo-setup.md.tmpl")
	rv.section(slotOperate, "runbook/bucardo-operate.md.tmpl")
}

// budgets: every site is writable, so a lost site's clients write again as
// soon as they reach another site's server; nothing is promoted.
func (bucardoComponent) budgets(t *schema.Topology) []pathBudget {
	if t.Database.Bucardo == nil {
		return nil
	}
	return []pathBudget{{contract.BudgetPathMultiMasterWrites, contract.BudgetFaultSiteLost,
		budget.Sum("a lost site's clients write on another site", clientFailover(t))}}
}
