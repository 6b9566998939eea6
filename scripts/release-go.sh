# Sourced by the scripts that build, scan or describe what ships
# (release.sh, vulncheck.sh); the caller sets $root. Not run on its own.
# shellcheck source=pins.env
source "$root/scripts/pins.env"

# use_release_go: every go command from here on is $RELEASE_GO, whatever Go
# the machine has. The go command fetches it once from the module proxy
# (module golang.org/toolchain, checked against the checksum database) into
# the module cache. Its bin/ goes first on PATH too: tools that ask `go` for
# its version with modules off (govulncheck does, through x/tools) would
# otherwise get the machine's Go, since GOTOOLCHAIN switches only in module mode.
use_release_go() {
  local goroot
  goroot="$(GOTOOLCHAIN="$RELEASE_GO" go env GOROOT)"
  export PATH="$goroot/bin:$PATH" GOTOOLCHAIN="$RELEASE_GO"
  local have
  have="$(go env GOVERSION)"
  [ "$have" = "$RELEASE_GO" ] || { echo "want $RELEASE_GO, go is $have" >&2; return 1; }
}

# pinned_tool PACKAGE@VERSION: installs a tool once into .bin/tools/ with the
# release toolchain and prints the binary's path. `go install pkg@version`
# builds it from its own go.mod and go.sum, checked against the checksum
# database, so no go.mod of ours carries it. -trimpath and no cgo make the
# binary the same on any machine (its hash is in each SBOM's metadata).
pinned_tool() {
  local pkg="${1%@*}" version="${1#*@}"
  local name="${pkg##*/}"
  local dir="$root/.bin/tools/$name@$version-$RELEASE_GO"
  if [ ! -x "$dir/$name" ]; then
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    echo "installing $name $version with $RELEASE_GO" >&2
    GOBIN="$dir.tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install "$pkg@$version" >&2
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/$name"
}
