#!/usr/bin/env bash
# Prints the path of a Python 3.13 or 3.12 that really runs (newest first), or nothing and exit 1.
# Used by the Makefile (and so by .ci/run) to pick the interpreter that creates the venv.
#
# Where it looks, in order:
#   1. python3.13, python3.12, python3 on PATH: counted only if they run; a pyenv shim for a version
#      that no pyenv setting selects fails, and is skipped;
#   2. pyenv's installed versions, $(pyenv root)/versions/3.1[23].*/bin (PYENV_ROOT, ~/.pyenv), even
#      when no shim selects them;
#   3. uv's managed interpreters (`uv python find`, ~/.local/share/uv/python/*/bin);
#   4. the usual install paths: /usr/local/bin, /usr/bin, ~/.local/bin, Homebrew, python.org, deadsnakes.
# An interpreter that can create a venv (has ensurepip) is preferred to one that cannot (Debian's
# python3.x without python3.x-venv); the latter is printed only if nothing better exists, so the
# Makefile's venv step can say which package to install.
set -u

WANTED=(3.13 3.12)
candidates=()

add() { candidates+=("$1"); }

for version in "${WANTED[@]}"; do add "python$version"; done
add python3

pyenv_roots=()
if command -v pyenv >/dev/null 2>&1; then
    pyenv_roots+=("$(pyenv root 2>/dev/null)")
fi
pyenv_roots+=("${PYENV_ROOT:-}" "$HOME/.pyenv")
for root in "${pyenv_roots[@]}"; do
    [[ -n "$root" && -d "$root/versions" ]] || continue
    # Only plain releases (3.13.0, 3.12.7): not 3.13t (free-threaded), 3.13-dev or environments.
    for dir in $(ls -1 "$root/versions" 2>/dev/null | grep -E '^3\.1[23](\.[0-9]+)?$' | sort -V -r); do
        add "$root/versions/$dir/bin/python${dir%.*}"
        add "$root/versions/$dir/bin/python3"
    done
done

if command -v uv >/dev/null 2>&1; then
    for version in "${WANTED[@]}"; do
        found="$(uv python find --no-project "$version" 2>/dev/null)" && add "$found"
    done
fi
uv_dir="${UV_PYTHON_INSTALL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/uv/python}"
for dir in $(ls -1d "$uv_dir"/cpython-3.1[23].* 2>/dev/null | sort -V -r); do
    add "$dir/bin/python3"
done

for version in "${WANTED[@]}"; do
    for dir in /usr/local/bin /usr/bin "$HOME/.local/bin" /opt/homebrew/bin \
               "/opt/homebrew/opt/python@$version/bin" "/usr/local/opt/python@$version/bin" \
               "/Library/Frameworks/Python.framework/Versions/$version/bin" "/opt/python/$version/bin"; do
        add "$dir/python$version"
    done
done

# Exit status: 0 = 3.12/3.13 with ensurepip, 3 = 3.12/3.13 without it, anything else = unusable.
probe='import sys
if not ((3, 12) <= sys.version_info[:2] <= (3, 13)): sys.exit(2)
try:
    import ensurepip, venv
except ImportError:
    print(sys.executable); sys.exit(3)
print(sys.executable)'

fallback=""
declare -A seen=()
for candidate in "${candidates[@]}"; do
    [[ -n "${seen[$candidate]:-}" ]] && continue
    seen[$candidate]=1
    if [[ "$candidate" == */* ]]; then
        [[ -x "$candidate" ]] || continue
    else
        command -v "$candidate" >/dev/null 2>&1 || continue
    fi
    executable="$("$candidate" -c "$probe" 2>/dev/null)"
    status=$?
    if [[ $status -eq 0 && -n "$executable" ]]; then
        echo "$executable"
        exit 0
    fi
    if [[ $status -eq 3 && -n "$executable" && -z "$fallback" ]]; then
        fallback="$executable"
    fi
done
if [[ -n "$fallback" ]]; then
    echo "$fallback"
    exit 0
fi
exit 1
