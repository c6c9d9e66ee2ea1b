package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

func init() {
	register("weather", "import a weather feed for the disconnect safeguards into a running server", cmdWeather)
}

const weatherUsage = `Usage: amigo weather import FILE [flags]

Imports a weather feed (region,time,temperature_c) into a running server, for the
disconnect safeguards. Run 'amigo weather import --help' for the flags.
`

func cmdWeather(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, weatherUsage)
		if len(args) == 0 {
			return usageError{errors.New("a subcommand is required")}
		}
		return nil
	}
	if args[0] != "import" {
		return usageError{fmt.Errorf("unknown subcommand %q; run 'amigo weather --help'", args[0])}
	}
	def := os.Getenv("AMIGO_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs := newFlags("weather import", "FILE [flags]",
		"Sends a weather feed to a running server: CSV with the header region,time,temperature_c, one\n"+
			"observation a line, times in RFC 3339 (2026-12-07T06:00:00Z), temperatures in degrees Celsius,\n"+
			"regions as the meters' region column names them. A disconnect is refused while the latest\n"+
			"observation of its meter's region within safeguards.weather_max_age is below safeguards.cold_c\n"+
			"or above safeguards.hot_c, unless overridden with a reason. A feed with a bad line is refused\n"+
			"whole, naming the line; importing a feed again changes nothing. Needs the configure permission\n"+
			"(AMIGO_TOKEN).", stderr)
	server := fs.String("server", def, "server base `url`")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this `duration`")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Errorf("give one weather file")}
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
	raw, err := callServer(ctx, base, "api/v1/weather", "text/csv", f)
	if err != nil {
		return fmt.Errorf("weather import %s: %w", fs.Arg(0), err)
	}
	var rep struct{ Observations int }
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("weather import: unreadable answer: %w", err)
	}
	fmt.Fprintf(stdout, "%d observations imported\n", rep.Observations)
	return nil
}
