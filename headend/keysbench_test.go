package headend_test

import (
	"context"
	"sync"
	"testing"
)

// BenchmarkRotateKeys rotates the keys of b.N meters, 64 at a time, as a
// campaign does; ns/op is one meter's share.
func BenchmarkRotateKeys(b *testing.B) {
	ctx := context.Background()
	r := newKeyRigTB(b, b.N, nil)
	b.ResetTimer()
	var wg sync.WaitGroup
	ids := make(chan string)
	for range rotateWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if _, err := r.h.RotateKeys(ctx, id); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, id := range r.mrids {
		ids <- id
	}
	close(ids)
	wg.Wait()
}

var rotateWorkers = 64
