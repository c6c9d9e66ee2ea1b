package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/store"
	_ "github.com/amigo-ami/amigo/store/engines" // what openStore opens
)

func init() {
	register("user", "manage users: add (the first administrator too), list, password", cmdUser)
	register("token", "issue an API token to a user", cmdToken)
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// openStore opens the configured store directly, for the commands that
// manage what the server reads; they work with the server stopped or
// running.
func openStore(cfgPath, data, storeURL string) (store.Store, error) {
	cfg, err := config.Load(cfgPath, os.Getenv)
	if err != nil {
		return nil, err
	}
	if data != "" {
		cfg.Data = data
	}
	if storeURL != "" {
		cfg.Store.URL = storeURL
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Store.ConnectTimeout)
	defer cancel()
	return store.Open(ctx, cfg.StoreURL())
}

// openUsers opens the store and the auth service over it.
func openUsers(cfgPath, data, storeURL string) (store.Store, *auth.Service, error) {
	st, err := openStore(cfgPath, data, storeURL)
	if err != nil {
		return nil, nil, err
	}
	svc, err := auth.New(st, auth.Options{Audit: audit.New(st)})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, svc, nil
}

// readPassword takes the password from the first line of stdin, so that
// it never appears in a process list or a shell history.
func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input (echo it in, or use a file: < password.txt)")
	}
	return pw, nil
}

var stdin io.Reader = os.Stdin

func cmdUser(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "Usage: amigo user add NAME --role ROLE [--usage-point UP]... < password\n       amigo user list\n       amigo user password NAME < password")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError{errors.New("give a subcommand: add, list or password")}
	}
	sub := args[0]
	fs := newFlags("user "+sub, "[flags]",
		"Manages the users who sign in to the console, the portal and the API. The password is read from\n"+
			"the first line of standard input. There is no default user: create the first administrator with\n"+
			"  amigo user add admin --role admin < password.txt\n"+
			"Roles: operator, engineer, security-officer, integrator, consumer, admin. A consumer sees only\n"+
			"the usage points given with --usage-point; an integrator may have no password and use tokens.", stderr)
	cfgPath := fs.String("config", os.Getenv("AMIGO_CONFIG"), "YAML config `file`")
	data := fs.String("data", "", "data `directory`")
	storeURL := fs.String("store", "", "store `url`")
	role := fs.String("role", "", "the user's `role`")
	var ups multi
	fs.Var(&ups, "usage-point", "a consumer's usage point `mRID` (repeat for several)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	st, svc, err := openUsers(*cfgPath, *data, *storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	switch sub {
	case "add":
		if fs.NArg() != 1 {
			return usageError{errors.New("give the user's name")}
		}
		r, err := auth.ParseRole(*role)
		if err != nil {
			return usageError{err}
		}
		pw := ""
		if r != auth.Integrator || stdinHasData() {
			if pw, err = readPassword(stdin); err != nil {
				return err
			}
		}
		u, err := svc.CreateUser(ctx, fs.Arg(0), pw, r, ups)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("user %s exists", strings.ToLower(fs.Arg(0)))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s created with role %s\n", u.Name, u.Role)
		return nil
	case "password":
		if fs.NArg() != 1 {
			return usageError{errors.New("give the user's name")}
		}
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		if err := svc.SetPassword(ctx, fs.Arg(0), pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s changed; their sessions are ended\n", strings.ToLower(fs.Arg(0)))
		return nil
	case "list":
		us, err := st.Users(ctx, "", 1000)
		if err != nil {
			return err
		}
		for _, u := range us {
			fmt.Fprintf(stdout, "%-20s %-17s %s\n", u.Name, u.Role, strings.Join(u.UsagePoints, ","))
		}
		return nil
	}
	return usageError{fmt.Errorf("unknown subcommand %q: add, list or password", sub)}
}

// stdinHasData is true when standard input is a pipe or a file, not a
// terminal left empty.
func stdinHasData() bool {
	f, ok := stdin.(*os.File)
	if !ok {
		return true
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice == 0
}

func cmdToken(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token", "USER [flags]",
		"Issues an API token to a user and prints it once; programs send it as 'Authorization: Bearer TOKEN'\n"+
			"(and the amigo commands that call a server read it from AMIGO_TOKEN).", stderr)
	cfgPath := fs.String("config", os.Getenv("AMIGO_CONFIG"), "YAML config `file`")
	data := fs.String("data", "", "data `directory`")
	storeURL := fs.String("store", "", "store `url`")
	label := fs.String("label", "", "what the token is for")
	ttl := fs.Duration("ttl", 0, "lifetime (0: does not expire)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("give the user's name")}
	}
	if *ttl < 0 {
		return usageError{errors.New("--ttl must not be negative")}
	}
	st, svc, err := openUsers(*cfgPath, *data, *storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, info, err := svc.IssueToken(context.Background(), fs.Arg(0), *label, *ttl)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %s", fs.Arg(0))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	exp := "never"
	if !info.ExpiresAt.IsZero() {
		exp = info.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(stderr, "token %s for %s, expires %s; it is shown only now\n", info.ID, info.User, exp)
	return nil
}
