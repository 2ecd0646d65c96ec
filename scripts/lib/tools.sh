# shellcheck shell=bash
# Shared helpers for scripts/install-*.sh: tools built from the Go module proxy and cached
# outside the repository, keyed by version, under ${TODO_CACHE:-$HOME/.cache/todo}.
#
# Source it; it defines functions only (plus TOOLS_CACHE) and changes no shell options.

# shellcheck disable=SC2034 # used by the scripts that source this file
TOOLS_CACHE="${TODO_CACHE:-$HOME/.cache/todo}"

tools_log() { printf '[%s] %s\n' "${TOOLS_NAME:-tools}" "$*" >&2; }
tools_die() { printf '[%s] error: %s\n' "${TOOLS_NAME:-tools}" "$*" >&2; exit 1; }

# tools_require_go: fail clearly when there is no Go toolchain; set up the environment for
# building from the module proxy (module mode, no go.work, static binaries by default).
tools_require_go() {
  command -v go >/dev/null 2>&1 ||
    tools_die "Go is not installed (need go >= 1.24; see https://go.dev/dl/)"
  export GO111MODULE=on GOWORK=off
  export CGO_ENABLED="${CGO_ENABLED:-0}"
  # -mod=mod lets the build add the requirements the wrapper module does not list yet.
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
}

# tools_lock <lock-file>: serialise concurrent installs of the same tool version (fd 9).
# A second run waits for the first and then finds the binaries cached. No-op without flock.
tools_lock() {
  mkdir -p "$(dirname "$1")"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$1"
    if ! flock -n 9; then
      tools_log "another install holds $1; waiting for it"
      flock 9
    fi
  fi
}

# tools_mod_download <module@version>: download a module into the normal module cache
# (GOMODCACHE, ~/go/pkg/mod by default) and keep `go mod download -json` in TOOLS_MOD_JSON.
tools_mod_download() {
  TOOLS_MOD_JSON="$(go mod download -json "$1")" || tools_die "go mod download $1 failed:
$TOOLS_MOD_JSON"
}

# tools_mod_field <Field>: one string field (Dir, GoMod, Sum, GoModSum, ...) of TOOLS_MOD_JSON.
tools_mod_field() {
  printf '%s\n' "$TOOLS_MOD_JSON" |
    sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" | head -n1
}

# tools_replace_lines <go.mod>: print every replace directive of a go.mod, one per line as
# "old [v] => new [v]", from both the single-line and the block form, comments removed.
tools_replace_lines() {
  awk '
    { sub(/\/\/.*/, ""); sub(/[[:space:]]+$/, "") }
    inblock && /^[[:space:]]*\)/ { inblock = 0; next }
    inblock { if ($0 ~ /=>/) { sub(/^[[:space:]]+/, ""); print } ; next }
    /^replace[[:space:]]*\(/ { inblock = 1; next }
    /^replace[[:space:]]/ { sub(/^replace[[:space:]]+/, ""); print }
  ' "$1"
}

# tools_go_directive <go.mod>: the "go" version a go.mod declares.
tools_go_directive() { awk '$1 == "go" { print $2; exit }' "$1"; }

# tools_require_version <go.mod> <module>: the version a go.mod requires of a module.
tools_require_version() {
  awk -v m="$2" '
    /^require[[:space:]]*\(/ { inblock = 1; next }
    inblock && /^[[:space:]]*\)/ { inblock = 0; next }
    inblock && $1 == m { print $2; exit }
    $1 == "require" && $2 == m { print $3; exit }
  ' "$1"
}

# tools_wrapper_module <dir> <module> <version>
# Write a throwaway main module in <dir> that requires <module>@<version> and carries that
# module's own replace directives (which `go install pkg@version` refuses to honour), so that
# `go build <module>/cmd/...` from <dir> builds with the upstream dependency graph. Upstream's
# go.sum is reused so every dependency checksum matches what the release was tested with.
tools_wrapper_module() {
  local dir="$1" mod="$2" ver="$3" gomod srcdir sum gomodsum gover line old new n=0
  tools_mod_download "$mod@$ver"
  gomod="$(tools_mod_field GoMod)"
  srcdir="$(tools_mod_field Dir)"
  sum="$(tools_mod_field Sum)"
  gomodsum="$(tools_mod_field GoModSum)"
  [[ -f "$gomod" && -d "$srcdir" ]] || tools_die "could not download $mod@$ver"
  gover="$(tools_go_directive "$gomod")"

  mkdir -p "$dir"
  (
    cd "$dir"
    rm -f go.mod go.sum
    go mod init todo.local/toolbuild >/dev/null 2>&1
    go mod edit -go="${gover:-1.24}" -require="$mod@$ver"
  ) || tools_die "could not create the wrapper module in $dir"

  while IFS= read -r line; do
    [[ -n "$line" ]] || continue
    # "old [oldver] => new [newver]" -> go mod edit -replace=old[@oldver]=new[@newver]
    old="$(awk '{ print $1 ($2 != "" ? "@" $2 : "") }' <<<"${line%%=>*}")"
    new="$(awk '{ print $1 ($2 != "" ? "@" $2 : "") }' <<<"${line#*=>}")"
    case "$new" in
      ./* | ../* | /*)
        tools_log "skipping local-path replace in upstream go.mod: $line"
        continue
        ;;
    esac
    (cd "$dir" && go mod edit -replace="$old=$new") || tools_die "bad replace directive: $line"
    n=$((n + 1))
  done < <(tools_replace_lines "$gomod")
  tools_log "wrapper module: $mod@$ver with $n replace directive(s) copied from its go.mod"

  {
    [[ -f "$srcdir/go.sum" ]] && cat "$srcdir/go.sum"
    printf '%s %s %s\n%s %s/go.mod %s\n' "$mod" "$ver" "$sum" "$mod" "$ver" "$gomodsum"
  } >"$dir/go.sum"
}
