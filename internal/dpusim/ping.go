package dpusim

import (
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"

	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// PingResult is what Ping saw.
type PingResult struct {
	From, To string // source namespace and destination address
	Sent     int
	Received int
	// RTTs holds the round-trip time of each echo, in order; a lost echo
	// has none.
	RTTs []time.Duration
	// Lines is a ping(8)-like transcript, one line per echo plus a
	// summary, for logs and the sandbox.
	Lines []string
}

// Loss is the fraction of echoes without a reply.
func (r PingResult) Loss() float64 {
	if r.Sent == 0 {
		return 1
	}
	return float64(r.Sent-r.Received) / float64(r.Sent)
}

// String is the transcript.
func (r PingResult) String() string { return strings.Join(r.Lines, "\n") }

// PingOptions tune Ping. The zero value sends 3 echoes 200ms apart and
// waits up to 1s for each reply.
type PingOptions struct {
	Count    int
	Interval time.Duration
	Wait     time.Duration // per-echo reply timeout
	Size     int           // payload bytes; default 56
}

// Ping sends ICMP echo requests to dst from inside namespace ns, the way
// `ip netns exec ns ping -c N dst` would (iputils is not needed; the
// machine may not have it). The echoes use a raw socket opened in ns, so
// the caller needs CAP_NET_RAW. An error means Ping could not run at all;
// lost echoes are reported in the result.
func Ping(ns string, dst netip.Addr, o PingOptions) (PingResult, error) {
	if o.Count <= 0 {
		o.Count = 3
	}
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	if o.Wait <= 0 {
		o.Wait = time.Second
	}
	if o.Size <= 0 {
		o.Size = 56
	}
	res := PingResult{From: ns, To: dst.String()}
	if !dst.Is4() {
		return res, fmt.Errorf("ping: %s is not an IPv4 address", dst)
	}
	var c *icmp.PacketConn
	err := stack.RunInNetNS(ns, func() error {
		var err error
		c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	if err != nil {
		return res, fmt.Errorf("ping: raw ICMP socket in netns %s: %w", ns, err)
	}
	defer c.Close()

	id := rand.IntN(0xffff) + 1
	res.Lines = append(res.Lines, fmt.Sprintf("PING %s %d(%d) bytes of data (from netns %s).", dst, o.Size, o.Size+28, ns))
	payload := make([]byte, o.Size)
	buf := make([]byte, 1500)
	to := &net.IPAddr{IP: net.IP(dst.AsSlice())}
	for seq := 1; seq <= o.Count; seq++ {
		start := time.Now()
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: payload}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return res, err
		}
		if _, err := c.WriteTo(b, to); err != nil {
			res.Sent++
			res.Lines = append(res.Lines, fmt.Sprintf("send icmp_seq=%d: %v", seq, err))
		} else {
			res.Sent++
			if rtt, ttl, ok := awaitReply(c, buf, dst, id, seq, start.Add(o.Wait)); ok {
				res.Received++
				res.RTTs = append(res.RTTs, rtt)
				res.Lines = append(res.Lines, fmt.Sprintf("%d bytes from %s: icmp_seq=%d ttl=%d time=%.3f ms",
					o.Size+8, dst, seq, ttl, float64(rtt.Microseconds())/1000))
			} else {
				res.Lines = append(res.Lines, fmt.Sprintf("no reply from %s: icmp_seq=%d within %v", dst, seq, o.Wait))
			}
		}
		if seq < o.Count {
			time.Sleep(time.Until(start.Add(o.Interval)))
		}
	}
	summary := fmt.Sprintf("--- %s ping statistics ---\n%d packets transmitted, %d received, %.0f%% packet loss",
		dst, res.Sent, res.Received, 100*res.Loss())
	if len(res.RTTs) > 0 {
		lo, hi, sum := res.RTTs[0], res.RTTs[0], time.Duration(0)
		for _, r := range res.RTTs {
			lo, hi, sum = min(lo, r), max(hi, r), sum+r
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		summary += fmt.Sprintf("\nrtt min/avg/max = %.3f/%.3f/%.3f ms", ms(lo), ms(sum/time.Duration(len(res.RTTs))), ms(hi))
	}
	res.Lines = append(res.Lines, strings.Split(summary, "\n")...)
	return res, nil
}

// awaitReply reads until the echo reply (id, seq) from dst arrives or the
// deadline passes. A raw socket sees every ICMP message of the namespace;
// others are skipped.
func awaitReply(c *icmp.PacketConn, buf []byte, dst netip.Addr, id, seq int, deadline time.Time) (rtt time.Duration, ttl int, ok bool) {
	sent := time.Now()
	if err := c.SetReadDeadline(deadline); err != nil {
		return 0, 0, false
	}
	_ = c.IPv4PacketConn().SetControlMessage(ipv4.FlagTTL, true)
	for {
		n, cm, peer, err := c.IPv4PacketConn().ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, 0, false
			}
			continue
		}
		if a, isIP := peer.(*net.IPAddr); !isIP || !a.IP.Equal(net.IP(dst.AsSlice())) {
			continue
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		if e, isEcho := m.Body.(*icmp.Echo); isEcho && e.ID == id && e.Seq == seq {
			if cm != nil {
				ttl = cm.TTL
			}
			return time.Since(sent), ttl, true
		}
	}
}
