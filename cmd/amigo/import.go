package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

func init() {
	register("import", "register the meters of a shipment manifest with a running server", cmdImport)
}

func cmdImport(args []string, stdout, stderr io.Writer) error {
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs := newFlags("import", "MANIFEST [flags]",
		"Sends a shipment manifest (the CSV that `amigo sim --manifest` writes; see manifest/README.md) to a\n"+
			"running server, which registers its meters and seals their keys. Importing the same file again\n"+
			"changes nothing. Bad rows are reported by line and the others are imported. The server reads the\n"+
			"file as it arrives, in batches of meters committed with their keys, and starts collecting the new\n"+
			"meters (yesterday and their backfill) as soon as the import ends.", stderr)
	server := fs.String("server", def, "server base `url`")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this `duration`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Errorf("give one manifest file")}
	}
	base, err := serverURL(*server)
	if err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	raw, err := callServer(ctx, base, "api/v1/meters/import", "text/csv", f)
	if err != nil {
		return fmt.Errorf("import %s: %w", fs.Arg(0), err)
	}
	var rep struct {
		Created, Updated, Unchanged int
		Accepted, Rejected          int
		Bad                         []struct {
			Line   int
			Column string
			Error  string
		}
		TopologyVersion int
		TopologyError   string
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("import: unreadable answer: %w", err)
	}
	fmt.Fprintf(stdout, "%d created, %d updated, %d unchanged, %d bad rows\n", rep.Created, rep.Updated, rep.Unchanged, rep.Rejected)
	for _, b := range rep.Bad {
		col := ""
		if b.Column != "" {
			col = " column " + b.Column
		}
		fmt.Fprintf(stdout, "line %d%s: %s\n", b.Line, col, b.Error)
	}
	if more := rep.Rejected - len(rep.Bad); more > 0 {
		fmt.Fprintf(stdout, "and %d bad rows more\n", more)
	}
	if rep.TopologyVersion > 0 {
		fmt.Fprintf(stdout, "the rows' substation, feeder and transformer columns made version %d of the grid\n", rep.TopologyVersion)
	}
	if rep.TopologyError != "" {
		fmt.Fprintf(stdout, "the grid was not changed: %s\n", rep.TopologyError)
	}
	if rep.Rejected > 0 {
		return fmt.Errorf("%d rows were not imported", rep.Rejected)
	}
	if rep.Created > 0 {
		fmt.Fprintf(stdout, "the new meters are being collected now: yesterday and their backfill (GET /api/v1/collection)\n")
	}
	return nil
}
