/**
 * Finds the lib folders of NVIDIA's Python wheels (nvidia-cudnn-cu13 / -cu12, nvidia-cublas /
 * nvidia-cublas-cu12, nvidia-cuda-nvrtc), for the CUDA backend to search when cuDNN or cuBLAS are
 * neither in ALEXNET_CUDA_LIBS nor on the loader path (native/cuda/library.h). The addon starts
 * no process; this asks `python3` where its `nvidia` namespace package lives, with a timeout, and
 * lists the folders itself. Layouts, from NVIDIA's path finder (cuda-python's cuda_pathfinder):
 * site-packages/nvidia/<package>/lib for CUDA 12 (cudnn/lib, cublas/lib, cuda_nvrtc/lib) and
 * site-packages/nvidia/cu13/lib for CUDA 13; cuDNN 9 keeps nvidia/cudnn/lib for both.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface WheelSearch {
  /** The lib folders found, sorted; empty when none. */
  folders: string[];
  /** What ran and what came of it, for the device report and error messages. */
  description: string;
}

export interface WheelSearchOptions {
  /** The Python to ask. @default process.env.ALEXNET_PYTHON ?? 'python3' */
  python?: string;
  /** How long Python may take to answer, in milliseconds. @default 10000 */
  timeoutMs?: number;
}

const SCRIPT = "import nvidia; print('\\n'.join(nvidia.__path__))";

/** The `lib` folders one level below each of `roots` (nvidia/cudnn/lib, nvidia/cu13/lib, ...). */
function libFolders(roots: string[]): string[] {
  const folders: string[] = [];
  for (const root of roots) {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(root, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const lib = path.join(root, entry.name, 'lib');
      if (entry.isDirectory() && fs.existsSync(lib) && fs.statSync(lib).isDirectory()) {
        folders.push(lib);
      }
    }
  }
  return folders.sort();
}

export function findWheelFolders(options: WheelSearchOptions = {}): WheelSearch {
  const python = options.python ?? process.env.ALEXNET_PYTHON ?? 'python3';
  const timeoutMs = options.timeoutMs ?? 10000;
  const ran = `${python} -c "${SCRIPT}"`;
  const result = spawnSync(python, ['-c', SCRIPT], {
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const none = (why: string): WheelSearch => ({ folders: [], description: `ran ${ran}: ${why}` });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ETIMEDOUT') return none(`no answer within ${timeoutMs} ms`);
    return none(`could not start it (${code ?? result.error.message})`);
  }
  if (result.status !== 0) {
    const last = result.stderr.trim().split('\n').pop() ?? '';
    return none(`exit status ${result.status}${last ? ` (${last})` : ''}: no NVIDIA wheels`);
  }
  const roots = result.stdout.split('\n').filter((line) => line.trim() !== '');
  const folders = libFolders(roots);
  if (folders.length === 0) return none(`no lib folders under ${roots.join(', ')}`);
  return { folders, description: `ran ${ran}: found ${folders.join(', ')}` };
}
