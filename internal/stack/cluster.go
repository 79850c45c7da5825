package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cluster is the raft-clustered OVN_Southbound database of a stack made
// with Options.SBCluster. Each member is an ovsdb-server in the stack's
// namespace with its own database file (sbN.db), unix socket (sbN.sock),
// control socket and raft port on 127.0.0.1. The stack's SBRemote, the
// Open_vSwitch ovn-remote, ovn-northd and the ctl helpers list every
// member.
type Cluster struct {
	// Members are the ovsdb-servers, in the order of SBRemote.
	Members []*Proc
	// RaftAddrs are the members' raft addresses (tcp:127.0.0.1:port).
	RaftAddrs []string

	s *Stack
}

// MemberStatus is what one member says in `cluster/status OVN_Southbound`.
type MemberStatus struct {
	SID    string // the member's short server ID, for example "fae0"
	Status string // "cluster member", "joining cluster", "disconnected from the cluster (...)", ...
	Role   string // "leader", "follower" or "candidate"
	Term   int64
	// Leader is the short server ID of the leader this member knows
	// ("self" is replaced by SID), or "unknown".
	Leader string
	Raw    string
}

// Status runs cluster/status on member i.
func (c *Cluster) Status(i int) (MemberStatus, error) {
	p := c.Members[i]
	if !p.Running() {
		return MemberStatus{}, fmt.Errorf("%s is not running", p.Name)
	}
	out, err := c.s.run("ovs-appctl", "--timeout=5", "--target="+p.CtlPath(), "cluster/status", sbDBName)
	if err != nil {
		return MemberStatus{}, err
	}
	return parseClusterStatus(out)
}

func parseClusterStatus(out string) (MemberStatus, error) {
	st := MemberStatus{Raw: out}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Server ID":
			st.SID, _, _ = strings.Cut(v, " ")
		case "Status":
			st.Status = v
		case "Role":
			st.Role = v
		case "Term":
			st.Term, _ = strconv.ParseInt(v, 10, 64)
		case "Leader":
			st.Leader = v
		}
	}
	if st.SID == "" || st.Role == "" {
		return st, fmt.Errorf("cannot parse cluster/status:\n%s", out)
	}
	if st.Leader == "self" {
		st.Leader = st.SID
	}
	return st, nil
}

// Index returns p's position in Members, or -1.
func (c *Cluster) Index(p *Proc) int {
	for i, m := range c.Members {
		if m == p {
			return i
		}
	}
	return -1
}

// agreedLeader returns the index of the leader that every running member
// acknowledges, as a full cluster member, in the same term.
func (c *Cluster) agreedLeader(requireAll bool) (int, error) {
	leader, leaderSID := -1, ""
	var sts []MemberStatus
	for i, p := range c.Members {
		if !p.Running() {
			if requireAll {
				return -1, fmt.Errorf("%s is not running", p.Name)
			}
			continue
		}
		st, err := c.Status(i)
		if err != nil {
			return -1, err
		}
		if st.Status != "cluster member" {
			return -1, fmt.Errorf("%s (%s): status %q", p.Name, st.SID, st.Status)
		}
		if st.Role == "leader" {
			if leader >= 0 {
				return -1, fmt.Errorf("two leaders: %s and %s", c.Members[leader].Name, p.Name)
			}
			leader, leaderSID = i, st.SID
		}
		sts = append(sts, st)
	}
	if leader < 0 {
		return -1, errors.New("no running member is leader")
	}
	for _, st := range sts {
		if st.Leader != leaderSID {
			return -1, fmt.Errorf("member %s sees leader %q, not %s (%s)", st.SID, st.Leader, leaderSID, c.Members[leader].Name)
		}
	}
	return leader, nil
}

// Leader returns the index of the current leader, as every running member
// sees it, or an error saying why there is none right now.
func (c *Cluster) Leader() (int, error) { return c.agreedLeader(false) }

// WaitLeader waits until the running members agree on a leader and
// returns its index. It fails the test on timeout.
func (c *Cluster) WaitLeader(timeout time.Duration) int {
	c.s.tb.Helper()
	leader := -1
	c.s.Eventually(timeout, "an SB cluster leader", func() error {
		var err error
		leader, err = c.agreedLeader(false)
		return err
	})
	return leader
}

// WaitHealthy waits until every member runs, is a full cluster member and
// all agree on one leader, whose index it returns.
func (c *Cluster) WaitHealthy(timeout time.Duration) int {
	c.s.tb.Helper()
	leader := -1
	c.s.Eventually(timeout, "the SB cluster to be healthy", func() error {
		var err error
		leader, err = c.agreedLeader(true)
		return err
	})
	return leader
}

// KillLeader waits for an agreed leader, SIGKILLs it and returns its index
// and the time of the kill. Start the member again with
// Members[i].Start(): its database file is kept, so it rejoins.
func (c *Cluster) KillLeader(timeout time.Duration) (int, time.Time) {
	c.s.tb.Helper()
	i := c.WaitLeader(timeout)
	at := time.Now()
	c.Members[i].Kill()
	return i, at
}

// ServerInfo is a member's own view of OVN_Southbound, from its _Server
// database: what clustered clients such as ovsdb-cs check before they
// trust a member.
type ServerInfo struct {
	Connected bool  // connected to the cluster, as far as the member knows
	Leader    bool  // the member is the leader
	Index     int64 // raft log index of the data the member serves
}

// ServerInfo reads member i's _Server row for OVN_Southbound through its
// unix socket (which works whatever its raft connections do).
func (c *Cluster) ServerInfo(i int) (ServerInfo, error) {
	sock := strings.Split(c.s.SBRemote(), ",")[i]
	out, err := c.s.run("ovsdb-client", "--timeout=5", "query", sock,
		`["_Server",{"op":"select","table":"Database","where":[["name","==","`+sbDBName+`"]],"columns":["connected","leader","index"]}]`)
	if err != nil {
		return ServerInfo{}, err
	}
	var res []struct {
		Rows []struct {
			Connected bool `json:"connected"`
			Leader    bool `json:"leader"`
			Index     any  `json:"index"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || len(res[0].Rows) != 1 {
		return ServerInfo{}, fmt.Errorf("_Server on %s: %v: %s", sock, err, out)
	}
	r := res[0].Rows[0]
	info := ServerInfo{Connected: r.Connected, Leader: r.Leader}
	if f, ok := r.Index.(float64); ok { // an empty set when unknown
		info.Index = int64(f)
	}
	return info, nil
}
