# Sourced by the default build scripts: `source /opt/kiln/sources.sh GLOB` sets the array
# `sources` to the regular files (symlinks left out) under the working directory that
# match the extended glob GLOB (e.g. '**/*.c'), hidden files and directories skipped,
# sorted, each as ./path. A glob rather than find | sort: no process started for it.
shopt -s globstar nullglob extglob
sources=()
for path in $1; do
  if [[ -f $path && ! -L $path ]]; then sources+=("./$path"); fi
done
shopt -u globstar nullglob extglob
