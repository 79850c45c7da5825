package app

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

var portStates = []plan.State{plan.StatePlugged, plan.StatePending, plan.StateConflict, plan.StateError, plan.StateUnplugBlocked}

// runStatus prints the daemon's health and its per-port status.
func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ovn-vif-sidecar status", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // --help prints to stdout below; errors get one line
	def := defaultHTTPAddr
	if v, ok := os.LookupEnv(httpAddrEnv); ok && v != "" {
		def = v
	}
	addr := fs.String("http-addr", def, "address of the running daemon; $"+httpAddrEnv+", if set, replaces the default")
	state := fs.String("state", "", "show only ports in this state (plugged, pending, conflict, error, unplug-blocked)")
	asJSON := fs.Bool("json", false, "print the ports as JSON instead of the health header and a table")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: ovn-vif-sidecar status [flags]")
			fs.PrintDefaults()
			fmt.Fprint(stdout, statusExitHelp)
			return exitOK
		}
		return usageError(stderr, "status: %s", flagParseError(fs, err))
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "status: stray argument %q", fs.Arg(0))
	}
	if *state != "" && !slices.Contains(portStates, plan.State(*state)) {
		return usageError(stderr, "status --state %q: want one of %v", *state, portStates)
	}
	cl := &http.Client{Timeout: 5 * time.Second}
	var ports []sidecar.PortStatus
	if err := getJSON(cl, *addr, "/ports", &ports); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	shown := []sidecar.PortStatus{}
	for _, p := range ports {
		if *state == "" || string(p.State) == *state {
			shown = append(shown, p)
		}
	}
	var h sidecar.Health
	if err := getJSON(cl, *addr, "/health", &h); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	code := exitOK
	if !h.Ready {
		code = exitNotReady
	}
	if *asJSON {
		printJSONTo(stdout, shown)
		return code
	}
	printHealth(stdout, h)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOGICAL PORT\tPROVIDER\tSTATE\tINTERFACE\tSINCE\tREASON")
	for _, p := range shown {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.LogicalPort, dash(p.Provider), p.State, dash(p.Interface),
			p.Since.Local().Format(time.DateTime), strings.ReplaceAll(p.Reason, "\n", " "))
	}
	_ = tw.Flush()
	return code
}

// exitNotReady is status's exit code for a daemon that answers but is not
// ready, as systemctl is-active exits 3 for an inactive unit.
const exitNotReady = 3

const statusExitHelp = `
Exit status (like systemctl is-active, for scripts):
  0  the daemon is ready (Ready: yes)
  3  the daemon answers but is not ready; the Ready line says why
  1  the daemon cannot be reached or gave a bad answer
  2  usage error
`

func getJSON(cl *http.Client, addr, path string, v any) error {
	resp, err := cl.Get("http://" + addr + path)
	if err != nil {
		return fmt.Errorf("cannot reach ovn-vif-sidecar at %s: %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ovn-vif-sidecar at %s answered %s to %s", addr, resp.Status, path)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("bad answer from %s%s: %v", addr, path, err)
	}
	return nil
}

// printHealth is the header of the status table: each database, the
// chassis, the bridge, the priming gate and why the daemon is not ready.
func printHealth(w io.Writer, h sidecar.Health) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	db := func(d sidecar.DBHealth) string {
		schema := ""
		if d.Schema != "" {
			schema = ", schema " + d.Schema
		}
		if d.Connected {
			return "connected" + schema
		}
		if d.Unsupported != "" {
			return "not supported: " + d.Unsupported
		}
		if d.LastError != "" {
			return "not connected: " + d.LastError
		}
		return "not connected"
	}
	found := func(name string, known, ok bool, yes, no string) string {
		switch {
		case name == "":
			return "- (unknown)"
		case !known:
			return name + " (unknown: database not connected)"
		case ok:
			return name + " (" + yes + ")"
		}
		return name + " (" + no + ")"
	}
	fmt.Fprintf(tw, "OVS database:\t%s\n", db(h.OVS))
	fmt.Fprintf(tw, "SB database:\t%s\n", db(h.SB))
	fmt.Fprintf(tw, "Chassis:\t%s\n", found(h.Chassis, h.SB.Connected, h.ChassisFound, "row found", "no Chassis row"))
	fmt.Fprintf(tw, "Bridge:\t%s\n", found(h.Bridge, h.OVS.Connected, h.BridgeFound, "exists", "does not exist"))
	fmt.Fprintf(tw, "Primed:\t%s\n", yesNo(h.Primed))
	if len(h.Providers) > 0 {
		var ps []string
		for _, p := range h.Providers {
			switch {
			case p.Up:
				ps = append(ps, p.Type+" up")
			case p.Error != "":
				ps = append(ps, p.Type+" down: "+p.Error)
			default:
				ps = append(ps, p.Type+" down")
			}
		}
		fmt.Fprintf(tw, "Providers:\t%s\n", strings.Join(ps, "; "))
	}
	if h.Ready {
		fmt.Fprintf(tw, "Ready:\tyes\n")
	} else {
		fmt.Fprintf(tw, "Ready:\tno: %s\n", strings.Join(h.Reasons, "; "))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// printJSONTo writes v indented, for scripts (--json).
func printJSONTo(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// newTable returns the column writer both subcommands print tables with.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
