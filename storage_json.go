package resamania

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/vault/sdk/logical"
)

// errUndecodable: a stored entry is not the JSON its kind expects.
var errUndecodable = errors.New("stored entry cannot be decoded")

// getJSON reads the entry at key into a new T, upgraded from the format it was
// written in (storage_format.go): (nil, nil) when there is none. what names
// the entry in errors, such as `the config of chain "x"`.
func getJSON[T any](ctx context.Context, s logical.Storage, key, what string) (*T, error) {
	entry, err := s.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if entry == nil {
		return nil, nil
	}
	v := new(T)
	if err := decodeEntry(key, entry.Value, formatUpgrades, v); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", what, err)
	}
	return v, nil
}

// putJSON stores v as JSON at key, in the current format.
func putJSON(ctx context.Context, s logical.Storage, key, what string, v any) error {
	raw, err := encodeEntry(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", what, err)
	}
	if err := s.Put(ctx, &logical.StorageEntry{Key: key, Value: raw}); err != nil {
		return fmt.Errorf("storing %s: %w", what, err)
	}
	return nil
}

// deleteKey deletes one entry; deleting what is not there is no error.
func deleteKey(ctx context.Context, s logical.Storage, key string) error {
	if err := s.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	return nil
}
