package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar"
)

// runStatus prints the daemon's per-port status as a table.
func runStatus(args []string) int {
	fs := flag.NewFlagSet("ovn-vif-sidecar status", flag.ContinueOnError)
	addr := fs.String("http-addr", defaultHTTPAddr, "address of the running daemon")
	state := fs.String("state", "", "show only ports in this state (plugged, pending, conflict, error, unplug-blocked)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + *addr + "/ports")
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot reach ovn-vif-sidecar at %s: %v\n", *addr, err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "ovn-vif-sidecar at %s answered %s\n", *addr, resp.Status)
		return 1
	}
	var ports []sidecar.PortStatus
	if err := json.NewDecoder(resp.Body).Decode(&ports); err != nil {
		fmt.Fprintf(os.Stderr, "bad answer from %s: %v\n", *addr, err)
		return 1
	}
	var shown []sidecar.PortStatus
	for _, p := range ports {
		if *state == "" || string(p.State) == *state {
			shown = append(shown, p)
		}
	}
	if *asJSON {
		printJSON(shown)
		return 0
	}
	tw := newTable()
	fmt.Fprintln(tw, "LOGICAL PORT\tPROVIDER\tSTATE\tINTERFACE\tSINCE\tREASON")
	for _, p := range shown {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.LogicalPort, dash(p.Provider), p.State, dash(p.Interface),
			p.Since.Local().Format(time.DateTime), strings.ReplaceAll(p.Reason, "\n", " "))
	}
	_ = tw.Flush()
	return 0
}

// printJSON writes v to stdout, indented, for scripts (--json).
func printJSON(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// newTable returns the column writer both subcommands print tables with.
func newTable() *tabwriter.Writer { return tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
