package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store/postgres"
	"github.com/amigo-ami/amigo/store/storetest"
)

func TestSuite(t *testing.T) {
	storetest.Run(t, storetest.Opener{
		Open:   storetest.OpenPostgres,
		Reopen: storetest.Reopen,
	})
}

func TestServerThatDoesNotAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Port 1 on loopback refuses at once.
	_, err := postgres.Open(ctx, "postgres://amigo:hunter2@127.0.0.1:1/amigo?connect_timeout=2")
	if err == nil {
		t.Fatal("opened a server that is not there")
	}
	msg := err.Error()
	if strings.Contains(msg, "hunter2") || strings.Contains(msg, "\n") || !strings.Contains(msg, "127.0.0.1:1") {
		t.Fatalf("want one line naming the server without the password, got %q", msg)
	}
}
