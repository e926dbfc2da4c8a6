/**
 * Where labelled images come from, in the three layouts people keep them in:
 *
 * - a folder of Kaggle-style names, `cat.123.jpg`, `dog.7.jpg` (Kaggle's Dogs vs. Cats): the
 *   class is the name's first dot-separated part;
 * - a folder with one sub-folder per class (torchvision's ImageFolder), searched recursively;
 * - list files, `train.txt` and `val.txt`, one `path label` per line with an integer label (the
 *   AlexNet fine-tuning tutorial's format), paths relative to the list file or absolute, with the
 *   class names in an optional `classes.txt` beside them, one per line in label order.
 *
 * Classes of the folder layouts are sorted by name, so `cat` is 0 and `dog` is 1, as in the
 * tutorial. Images are JPEG or PNG files (by extension here; the decoder reads the signature).
 * A validation split, when there are no lists, is seeded and stratified (`stratifiedSplit`), and
 * `prepare-data` writes the same split as lists.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlexNetError, FormatError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { Rng } from '../random';
import { finiteNumber, integer } from '../validate';

/** One image and its class index. */
export interface LabelledImage {
  /** Absolute path. */
  file: string;
  label: number;
}

export interface ImageList {
  items: LabelledImage[];
  /** Class names, by label. */
  classes: string[];
}

export type Layout = 'kaggle' | 'class-folders' | 'lists';

/**
 * JPEG and PNG, which both decoders read, and the formats only sharp reads (decoder.ts): listed
 * whichever decoder runs, so that a dataset is the same list of images everywhere, and the js
 * decoder reports the ones it cannot read (naming sharp) instead of leaving them out silently.
 */
const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.avif',
  '.gif',
  '.tif',
  '.tiff',
]);
/** `<class>.<anything>.<ext>`: the class is everything before the first dot. */
const KAGGLE_NAME = /^([^.]+)\.(.+)\.(jpe?g|png|webp|avif|gif|tiff?)$/i;

const isImageFile = (name: string) =>
  !name.startsWith('.') && IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());

/** Plain code-unit order: the same on every machine and locale. */
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The image files (IMAGE_EXTENSIONS) under `folder`, recursively (hidden ones skipped), sorted by path. */
export function imagesUnder(folder: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (isImageFile(entry.name)) found.push(full);
    }
  };
  walk(folder);
  return found.sort(byName);
}

/**
 * The labelled images of a folder in the Kaggle or class-folder layout (hidden files and
 * folders ignored). Throws, naming the folder, when it holds no images, mixes the layouts, has
 * an image whose name carries no class, or has a class folder without images.
 */
export function scanImageFolder(folder: string): ImageList & { layout: Layout } {
  const root = path.resolve(folder);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new AlexNetError(`${folder}: expected a folder of images but it is not a folder`);
  }
  const entries = fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) => byName(a.name, b.name));
  const images = entries.filter((e) => e.isFile() && isImageFile(e.name)).map((e) => e.name);
  const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name);

  if (images.length > 0) {
    const inFolders = folders.filter((name) => imagesUnder(path.join(root, name)).length > 0);
    if (inFolders.length > 0) {
      throw new AlexNetError(
        `${folder}: holds images both directly (e.g. ${images[0]}) and in sub-folders ` +
          `(e.g. ${inFolders[0]}/); use one layout: Kaggle-style names or one folder per class`,
      );
    }
    const named = images.map((name) => ({ name, match: KAGGLE_NAME.exec(name) }));
    const unnamed = named.find((n) => !n.match);
    if (unnamed) {
      throw new AlexNetError(
        `${path.join(folder, unnamed.name)}: expected a Kaggle-style name '<class>.<id>.<ext>' ` +
          '(e.g. cat.123.jpg) to tell its class',
      );
    }
    const classes = [...new Set(named.map((n) => n.match![1]))].sort(byName);
    const label = new Map(classes.map((c, i) => [c, i]));
    const items = named.map((n) => ({
      file: path.join(root, n.name),
      label: label.get(n.match![1])!,
    }));
    return { layout: 'kaggle', classes, items };
  }

  const classes = folders;
  if (classes.length === 0) {
    throw new AlexNetError(
      `${folder}: no images found (expected image files named like cat.1.jpg, or one ` +
        'sub-folder of images per class)',
    );
  }
  const items: LabelledImage[] = [];
  classes.forEach((name, label) => {
    const files = imagesUnder(path.join(root, name));
    if (files.length === 0) {
      throw new AlexNetError(
        `${path.join(folder, name)}: class '${name}' has no images (JPEG or PNG files)`,
      );
    }
    for (const file of files) items.push({ file, label });
  });
  return { layout: 'class-folders', classes, items };
}

/** Class names from a `classes.txt`: one per line, in label order; blank lines ignored. */
function readClassNames(file: string): string[] {
  const names = fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (names.length === 0) throw new FormatError(`${file}: expected one class name per line`);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new FormatError(`${file}: class '${name}' is listed twice`);
    seen.add(name);
  }
  return names;
}

/**
 * Reads a list file of `path label` lines (blank lines ignored; the path may contain spaces:
 * the label is the last field). Class names come from `classes` (else `classes.txt` beside the
 * file, else the labels themselves, '0' to the largest).
 * @throws FormatError naming the file and line for a line that does not parse or a label out of range.
 */
export function readImageList(file: string, classes?: readonly string[]): ImageList {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new AlexNetError(`${file}: cannot read the list file (${(error as Error).message})`);
  }
  const dir = path.dirname(path.resolve(file));
  const classFile = path.join(dir, 'classes.txt');
  const names = classes ?? (fs.existsSync(classFile) ? readClassNames(classFile) : undefined);
  const items: LabelledImage[] = [];
  let largest = { label: -1, line: 0 };
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    const match = /^(.*\S)\s+(\d+)$/.exec(line);
    if (!match) {
      throw new FormatError(
        `${file}:${index + 1}: expected '<path> <label>' with an integer label but found '${line}'`,
      );
    }
    const label = Number(match[2]);
    if (names && label >= names.length) {
      throw new FormatError(
        `${file}:${index + 1}: label ${label} is out of range: there are ${names.length} classes ` +
          `(${names.join(', ')})`,
      );
    }
    if (label > largest.label) largest = { label, line: index + 1 };
    items.push({ file: path.resolve(dir, match[1]), label });
  });
  if (items.length === 0) throw new AlexNetError(`${file}: the list has no images`);
  // Without class names, the labels say how many classes there are; a label beyond the number
  // of images leaves some class without any (and a label like 4294967295 would otherwise make
  // billions of names).
  if (!names && largest.label >= items.length) {
    throw new FormatError(
      `${file}:${largest.line}: label ${largest.label} makes ${largest.label + 1} classes but the ` +
        `list has ${items.length} images, so some class has none; number the classes from 0 ` +
        'without gaps, or name them in classes.txt beside the list',
    );
  }
  const count = names?.length ?? largest.label + 1;
  return {
    items,
    classes: names ? [...names] : Array.from({ length: count }, (_, i) => String(i)),
  };
}

/** Throws, naming `source`, when a class of `list` has no image. */
function checkEveryClass(list: ImageList, source: string): void {
  const counts = classCounts(list);
  const empty = counts.indexOf(0);
  if (empty >= 0) {
    throw new AlexNetError(
      `${source}: class ${empty} ('${list.classes[empty]}') has no images; every class needs ` +
        'training images',
    );
  }
}

export function classCounts(list: ImageList): number[] {
  const counts = new Array<number>(list.classes.length).fill(0);
  for (const item of list.items) counts[item.label]++;
  return counts;
}

/**
 * Splits `list` into training and validation sets, per class: each class's images, sorted by
 * path, are shuffled by one Rng(seed) (classes in label order) and round(n * valFraction) of
 * them, at least one and at most n - 1, go to validation (none when valFraction is 0 or the
 * class has one image). The same files and seed always give the same split, whatever order the
 * files were listed in. Both lists come back sorted by label, then path.
 */
export function stratifiedSplit(
  list: ImageList,
  valFraction: number,
  seed: number,
): { train: ImageList; val: ImageList } {
  finiteNumber('valFraction', valFraction, 0, 0.99);
  integer('seed', seed, 0);
  const rng = new Rng(seed);
  const train: LabelledImage[] = [];
  const val: LabelledImage[] = [];
  list.classes.forEach((_, label) => {
    const members = list.items
      .filter((item) => item.label === label)
      .sort((a, b) => byName(a.file, b.file));
    const order = rng.shuffle(Int32Array.from(members, (_, i) => i));
    const n = members.length;
    const nVal =
      valFraction === 0 || n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
    const isVal = new Uint8Array(n);
    for (let i = 0; i < nVal; ++i) isVal[order[i]] = 1;
    members.forEach((item, i) => {
      (isVal[i] ? val : train).push(item);
    });
  });
  return {
    train: { items: train, classes: list.classes },
    val: { items: val, classes: list.classes },
  };
}

/** Paths in lists are written relative to the list's folder, with '/' separators. */
function listLines(list: ImageList, dir: string): string[] {
  return list.items.map((item) => {
    const relative = path.relative(dir, item.file).split(path.sep).join('/');
    return `${relative} ${item.label}\n`;
  });
}

/** Writes `train.txt`, `val.txt` and `classes.txt` into `dir`, each atomically. */
export async function writeImageLists(
  dir: string,
  train: ImageList,
  val: ImageList,
): Promise<{ train: string; val: string; classes: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const files = {
    train: path.join(dir, 'train.txt'),
    val: path.join(dir, 'val.txt'),
    classes: path.join(dir, 'classes.txt'),
  };
  await writeFileAtomic(files.train, listLines(train, dir));
  await writeFileAtomic(files.val, listLines(val, dir));
  await writeFileAtomic(
    files.classes,
    train.classes.map((name) => `${name}\n`),
  );
  return files;
}

/** One set of a data source: the images of one cache (by name) and which of them it uses. */
export interface SourceSet {
  /** The cache that holds the images, e.g. 'train' for train.txt or 'images' for a folder. */
  cacheName: string;
  /** Every image of that cache, in cache order. */
  list: ImageList;
  /** The positions in `list.items` that form this set. */
  indices: Int32Array;
}

export interface DataSource {
  layout: Layout;
  classes: string[];
  train: SourceSet;
  val: SourceSet;
  /** Where caches go unless the caller chooses: beside the lists, or in the images folder. */
  cacheDir: string;
  /** One line for the user, e.g. "train.txt and val.txt in data/ (2 classes)". */
  description: string;
}

export interface DataSourceOptions {
  /** Fraction held out when there is no val.txt. @default 0.15 */
  valFraction?: number;
  /** Seed of that split. @default 0 */
  seed?: number;
}

const everything = (list: ImageList) => Int32Array.from(list.items, (_, i) => i);

/** Splits one list in place (both sets index the same cache). */
function splitSets(cacheName: string, list: ImageList, valFraction: number, seed: number) {
  const split = stratifiedSplit(list, valFraction, seed);
  const position = new Map(list.items.map((item, i) => [item, i]));
  const indices = (part: ImageList) => Int32Array.from(part.items, (item) => position.get(item)!);
  return {
    train: { cacheName, list, indices: indices(split.train) },
    val: { cacheName, list, indices: indices(split.val) },
  };
}

/**
 * Opens `--data`: a list file (training; validation from `val.txt` beside it when it exists,
 * else a split of it), a folder holding `train.txt`, or a folder of images (split). Every check
 * that needs no decoding happens here, before any work: a missing path, list lines that do not
 * parse, an empty dataset, a class with no training images, an empty validation set.
 */
export function openDataSource(data: string, options: DataSourceOptions = {}): DataSource {
  const valFraction = options.valFraction ?? 0.15;
  const seed = options.seed ?? 0;
  if (!fs.existsSync(data)) throw new AlexNetError(`${data}: no such file or folder`);
  let trainList = data;
  if (fs.statSync(data).isDirectory()) {
    trainList = path.join(data, 'train.txt');
    if (!fs.existsSync(trainList)) {
      const scanned = scanImageFolder(data);
      const list = { items: scanned.items, classes: scanned.classes };
      const sets = splitSets('images', list, valFraction, seed);
      const source: DataSource = {
        layout: scanned.layout,
        classes: scanned.classes,
        ...sets,
        cacheDir: path.resolve(data),
        description:
          `${scanned.layout === 'kaggle' ? 'Kaggle-style names' : 'class folders'} in ${data} ` +
          `(${scanned.classes.length} classes), ${Math.round(100 * valFraction)}% held out ` +
          `for validation with seed ${seed}`,
      };
      checkSource(source, data);
      return source;
    }
  }
  const dir = path.dirname(path.resolve(trainList));
  const train = readImageList(trainList);
  const valFile = path.join(dir, 'val.txt');
  const hasVal = path.resolve(trainList) !== valFile && fs.existsSync(valFile);
  const cacheName = path.basename(trainList, path.extname(trainList));
  let sets: { train: SourceSet; val: SourceSet };
  if (hasVal) {
    const val = readImageList(valFile, train.classes);
    sets = {
      train: { cacheName, list: train, indices: everything(train) },
      val: { cacheName: 'val', list: val, indices: everything(val) },
    };
  } else {
    sets = splitSets(cacheName, train, valFraction, seed);
  }
  const source: DataSource = {
    layout: 'lists',
    classes: train.classes,
    ...sets,
    cacheDir: dir,
    description: hasVal
      ? `${trainList} and ${valFile} (${train.classes.length} classes)`
      : `${trainList} (${train.classes.length} classes), ${Math.round(100 * valFraction)}% ` +
        `held out for validation with seed ${seed}`,
  };
  checkSource(source, trainList);
  return source;
}

function checkSource(source: DataSource, name: string): void {
  const trainItems = Array.from(source.train.indices, (i) => source.train.list.items[i]);
  checkEveryClass({ items: trainItems, classes: source.classes }, name);
  if (source.val.indices.length === 0) {
    throw new AlexNetError(
      `${name}: the validation set is empty (every class needs at least two images to split one off)`,
    );
  }
}
