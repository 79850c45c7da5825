// Command trim writes the slim schema of a database: the -from schema
// trimmed to the columns of columns.txt (see package slim).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim"
)

func main() {
	db := flag.String("db", "", "database name, as columns.txt spells it")
	from := flag.String("from", "", "the full schema to trim")
	out := flag.String("o", "", "the slim schema to write")
	flag.Parse()
	if err := run(*db, *from, *out); err != nil {
		fmt.Fprintln(os.Stderr, "trim:", err)
		os.Exit(1)
	}
}

func run(db, from, out string) error {
	cols, err := slim.Columns(db)
	if err != nil {
		return err
	}
	full, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	trimmed, err := slim.Trim(full, cols)
	if err != nil {
		return err
	}
	return os.WriteFile(out, trimmed, 0o644)
}
