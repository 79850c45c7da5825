package fleet

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
)

// bindings follows which Port_Bindings exist on the SB cluster members,
// through every leader kill, over one connection: polling with ovn-sbctl
// would itself show up in the servers' connection counts.
type bindings struct {
	cl      client.Client
	mu      sync.Mutex
	byUUID  map[string]string
	present map[string]bool
}

// every is libovsdb's reconnect backoff: a constant delay, never giving
// up (libovsdb panics when a backoff stops).
type every time.Duration

func (e every) NextBackOff() time.Duration { return time.Duration(e) }
func (every) Reset()                       {}

func watchBindings(ctx context.Context, remote string) (*bindings, error) {
	dbModel, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{sb.PortBindingTable: &sb.PortBinding{}})
	if err != nil {
		return nil, err
	}
	logger := logr.Discard()
	opts := []client.Option{client.WithLogger(&logger), client.WithLeaderOnly(false), client.WithReconnect(10*time.Second, every(100*time.Millisecond))}
	for _, ep := range strings.Split(remote, ",") {
		opts = append(opts, client.WithEndpoint(ep))
	}
	cl, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return nil, err
	}
	b := &bindings{cl: cl, byUUID: map[string]string{}, present: map[string]bool{}}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Connect(cctx); err != nil {
		return nil, fmt.Errorf("connect %s: %w", remote, err)
	}
	cl.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(_ string, m model.Model) { b.set(m.(*sb.PortBinding), true) },
		UpdateFunc: func(_ string, _, m model.Model) { b.set(m.(*sb.PortBinding), true) },
		DeleteFunc: func(_ string, m model.Model) { b.set(m.(*sb.PortBinding), false) },
	})
	pb := &sb.PortBinding{}
	if _, err := cl.Monitor(cctx, cl.NewMonitor(client.WithTable(pb, &pb.LogicalPort))); err != nil {
		cl.Close()
		return nil, err
	}
	return b, nil
}

func (b *bindings) set(pb *sb.PortBinding, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.byUUID[pb.UUID] = pb.LogicalPort
		b.present[pb.LogicalPort] = true
		return
	}
	delete(b.present, b.byUUID[pb.UUID])
	delete(b.byUUID, pb.UUID)
}

// wait returns when a binding for lport exists, or false at deadline.
func (b *bindings) wait(lport string, deadline time.Time) (time.Time, bool) {
	for {
		b.mu.Lock()
		ok := b.present[lport]
		b.mu.Unlock()
		if ok {
			return time.Now(), true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bindings) Close() { b.cl.Close() }
