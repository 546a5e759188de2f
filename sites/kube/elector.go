package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// ElectorConfig configures leader election with a coordination.k8s.io
// Lease in the policy (GSLB) cluster.
type ElectorConfig struct {
	// RESTConfig of the policy cluster; when nil, Kubeconfig and Context
	// are read, and when those are empty too, the in-cluster config.
	RESTConfig *rest.Config
	Kubeconfig string
	Context    string

	// Namespace and Name of the Lease (Name default "meridian-leader";
	// Namespace is required).
	Namespace string
	Name      string
	// Identity of this candidate. Default: host name plus a random
	// suffix. It must be unique per process: a restarted process that
	// reused its identity could take the Lease back without a new term.
	Identity string

	// LeaseDuration, RenewDeadline and RetryPeriod as in client-go
	// (defaults 15s, 10s, 2s).
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration

	// OnStartedLeading is called, in its own goroutine, when this process
	// becomes the leader; ctx ends when it stops leading. term is the
	// Lease's spec.leaseTransitions + 1: it grows with every change of
	// leader, so a State published under it is newer than any State of
	// an earlier leader.
	OnStartedLeading func(ctx context.Context, term uint64)
	// OnStoppedLeading is called when this process stops leading (it
	// was leading before).
	OnStoppedLeading func()
	// OnNewLeader is called when the observed leader changes.
	OnNewLeader func(identity string)

	Logger *slog.Logger
}

// Elector campaigns for the leader Lease. Create it with NewElector and
// run it with Run.
type Elector struct {
	cfg    ElectorConfig
	lock   *resourcelock.LeaseLock
	leases coordinationv1client.LeasesGetter
	log    *slog.Logger
	term   atomic.Uint64
	leader atomic.Bool

	mu       sync.Mutex
	observed string
}

// NewElector checks cfg and prepares an Elector.
func NewElector(cfg ElectorConfig) (*Elector, error) {
	if cfg.Namespace == "" {
		return nil, errors.New("kube: elector: the Lease namespace is required")
	}
	if cfg.Name == "" {
		cfg.Name = "meridian-leader"
	}
	cfg.LeaseDuration = orDefault(cfg.LeaseDuration, 15*time.Second)
	cfg.RenewDeadline = orDefault(cfg.RenewDeadline, 10*time.Second)
	cfg.RetryPeriod = orDefault(cfg.RetryPeriod, 2*time.Second)
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Identity = host + "_" + hex.EncodeToString(b[:])
	}
	rc := cfg.RESTConfig
	if rc == nil {
		var err error
		if cfg.Kubeconfig == "" && cfg.Context == "" {
			rc, err = rest.InClusterConfig()
		} else {
			rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				&clientcmd.ClientConfigLoadingRules{ExplicitPath: cfg.Kubeconfig},
				&clientcmd.ConfigOverrides{CurrentContext: cfg.Context}).ClientConfig()
		}
		if err != nil {
			return nil, fmt.Errorf("kube: elector: %w", err)
		}
	}
	rc = rest.CopyConfig(rc)
	// as client-go's NewFromKubeconfig: a request must not outlive the
	// renew deadline
	rc.Timeout = max(cfg.RenewDeadline/2, time.Second)
	rc = rest.AddUserAgent(rc, "meridian-leader-election")
	client, err := coordinationv1client.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube: elector: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Elector{
		cfg:    cfg,
		leases: client,
		lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
			Client:     client,
			LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
		},
		log: log.With("component", "elector", "identity", cfg.Identity),
	}, nil
}

// Identity is this candidate's identity in the Lease.
func (e *Elector) Identity() string { return e.cfg.Identity }

// IsLeader reports whether this process leads now.
func (e *Elector) IsLeader() bool { return e.leader.Load() }

// Term is the term of the current or last leadership of this process (0
// before it first led).
func (e *Elector) Term() uint64 { return e.term.Load() }

// Leader is the identity of the leader last observed.
func (e *Elector) Leader() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.observed
}

// Run campaigns until ctx ends, and campaigns again whenever leadership is
// lost. On ctx's end a leader releases the Lease, so another candidate
// takes over within its RetryPeriod.
func (e *Elector) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            e.lock,
			LeaseDuration:   e.cfg.LeaseDuration,
			RenewDeadline:   e.cfg.RenewDeadline,
			RetryPeriod:     e.cfg.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            e.cfg.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: e.started,
				OnStoppedLeading: e.stopped,
				OnNewLeader: func(id string) {
					e.mu.Lock()
					e.observed = id
					e.mu.Unlock()
					if e.cfg.OnNewLeader != nil {
						e.cfg.OnNewLeader(id)
					}
				},
			},
		})
		if err != nil {
			return fmt.Errorf("kube: elector: %w", err)
		}
		le.Run(ctx)
	}
	return nil
}

func (e *Elector) started(ctx context.Context) {
	term := e.readTerm(ctx)
	// never go backwards, whatever happened to the Lease
	for {
		old := e.term.Load()
		if term <= old {
			term = old + 1
		}
		if e.term.CompareAndSwap(old, term) {
			break
		}
	}
	e.leader.Store(true)
	e.log.Info("started leading", "term", term)
	if e.cfg.OnStartedLeading != nil {
		e.cfg.OnStartedLeading(ctx, term)
	}
}

// readTerm reads the Lease just acquired: spec.leaseTransitions + 1.
func (e *Elector) readTerm(ctx context.Context) uint64 {
	var last error
	for range 5 {
		// not e.lock.Get: the lock belongs to the elector's goroutine
		l, err := e.leases.Leases(e.cfg.Namespace).Get(ctx, e.cfg.Name, metav1.GetOptions{})
		if err == nil {
			if h := l.Spec.HolderIdentity; h == nil || *h != e.cfg.Identity {
				e.log.Warn("the Lease names another holder just after acquisition", "holder", h)
			}
			var transitions int32
			if l.Spec.LeaseTransitions != nil {
				transitions = *l.Spec.LeaseTransitions
			}
			return uint64(max(transitions, 0)) + 1
		}
		last = err
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(e.cfg.RetryPeriod / 4):
		}
	}
	e.log.Warn("cannot read the Lease's transitions; taking the next term", "error", last)
	return 0
}

func (e *Elector) stopped() {
	if e.leader.Swap(false) {
		e.log.Info("stopped leading", "term", e.term.Load())
		if e.cfg.OnStoppedLeading != nil {
			e.cfg.OnStoppedLeading()
		}
	}
}
