package resamania

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Every stored entry is a JSON object that carries the format it was written
// in, so a later plugin version can tell old entries from its own and
// migrate them, and an older one refuses what it cannot understand instead of
// misreading it (a rollback after an upgrade that changed a format).
//
// Format 0 is every entry written before this field existed: the JSON of the
// entry's struct, nothing more. Format 1 is the same object plus the field.
// An entry is upgraded when it is read; it is written back, in the current
// format, the next time it is stored for its own reasons.
const formatVersionField = "format_version"

// formatUpgrade turns one entry's raw JSON object from format i into format
// i+1. The key says which kind of entry it is (by its storage prefix).
type formatUpgrade func(key string, obj map[string]json.RawMessage) error

// formatUpgrades[i] upgrades format i to i+1; the current format is its
// length. To change what an entry holds, append a step here: the format
// number moves up with it, and the step is the only migration code.
var formatUpgrades = []formatUpgrade{
	// 0 -> 1: only the format_version field is new.
	func(string, map[string]json.RawMessage) error { return nil },
}

// errNewerFormat: an entry was written by a newer plugin version, in a format
// this one does not know. Never a cache miss: reading it as an older format
// could lose or misuse what it holds.
var errNewerFormat = errors.New("stored entry has a newer format than this plugin version reads")

// encodeEntry is v's JSON object with the current format version added.
func encodeEntry(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("a stored entry must be a JSON object: %w", err)
	}
	obj[formatVersionField] = json.RawMessage(fmt.Sprint(len(formatUpgrades)))
	return json.Marshal(obj)
}

// decodeEntry reads the entry stored at key into v, running the upgrade
// steps from the entry's format to the current one (len(steps)).
func decodeEntry(key string, raw []byte, steps []formatUpgrade, v any) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Errorf("%w: %w", errUndecodable, err)
	}
	format := 0 // no field: written before formats were versioned
	if f, ok := obj[formatVersionField]; ok {
		if err := json.Unmarshal(f, &format); err != nil || format < 0 {
			return fmt.Errorf("%w: %s is %s", errUndecodable, formatVersionField, f)
		}
		delete(obj, formatVersionField)
	}
	if format > len(steps) {
		return fmt.Errorf("%w: it is format %d, and this plugin version (%s) reads formats 0 to %d; run a plugin version at least as new as the one that wrote it",
			errNewerFormat, format, Version, len(steps))
	}
	for i := format; i < len(steps); i++ {
		if err := steps[i](key, obj); err != nil {
			return fmt.Errorf("upgrading from format %d to %d: %w", i, i+1, err)
		}
	}
	upgraded, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(upgraded, v); err != nil {
		return fmt.Errorf("%w: %w", errUndecodable, err)
	}
	return nil
}
