/**
 * Dataset layouts and lists: Kaggle-style names, class folders and list files give the same
 * labels; the stratified split is deterministic and stratified; bad input is a clear error
 * before any decoding.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  classCounts,
  type ImageList,
  openDataSource,
  readImageList,
  scanImageFolder,
  stratifiedSplit,
  writeImageLists,
} from '../lib/data/sources';
import { FormatError } from '../lib/errors';
import { prepareData } from '../scripts/prepare-data';

const KAGGLE = path.join(__dirname, 'fixtures', 'images', 'kaggle');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-sources-'));
const names = (list: ImageList) => list.items.map((i) => `${path.basename(i.file)} ${i.label}`);

/** A folder of empty files with these names (the layouts only look at names). */
function folderOf(files: string[]): string {
  const dir = tmp();
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), '');
  }
  return dir;
}

/** n images per class, Kaggle-style. */
const kaggleNames = (counts: Record<string, number>) =>
  Object.entries(counts).flatMap(([c, n]) => Array.from({ length: n }, (_, i) => `${c}.${i}.jpg`));

describe('layouts', () => {
  test('Kaggle-style names: the class is the prefix, classes sorted (cat 0, dog 1)', () => {
    const list = scanImageFolder(KAGGLE);
    expect(list.layout).toBe('kaggle');
    expect(list.classes).toEqual(['cat', 'dog']);
    expect(list.items).toHaveLength(16);
    expect(names(list)).toContain('cat.6.jpg 0');
    expect(names(list)).toContain('dog.6.png 1');
    expect(list.items.every((i) => path.isAbsolute(i.file))).toBe(true);
  });

  test('class folders, searched recursively, hidden entries and other files ignored', () => {
    const dir = folderOf([
      'zebra/a.jpg',
      'ant/b.PNG',
      'ant/deeper/c.jpeg',
      'ant/notes.txt',
      '.hidden/d.jpg',
      'zebra/.e.jpg',
    ]);
    const list = scanImageFolder(dir);
    expect(list.layout).toBe('class-folders');
    expect(list.classes).toEqual(['ant', 'zebra']);
    expect(names(list)).toEqual(['b.PNG 0', 'c.jpeg 0', 'a.jpg 1']);
  });

  test('a list file with classes.txt, relative and absolute paths and spaces in names', () => {
    const dir = folderOf(['classes.txt']);
    fs.writeFileSync(path.join(dir, 'classes.txt'), 'cat\ndog\n');
    fs.writeFileSync(
      path.join(dir, 'train.txt'),
      `sub/my cat.jpg 0\n\n/abs/dog.jpg   1\r\n${path.join(KAGGLE, 'cat.0.jpg')} 0\n`,
    );
    const list = readImageList(path.join(dir, 'train.txt'));
    expect(list.classes).toEqual(['cat', 'dog']);
    expect(list.items).toEqual([
      { file: path.join(dir, 'sub', 'my cat.jpg'), label: 0 },
      { file: '/abs/dog.jpg', label: 1 },
      { file: path.join(KAGGLE, 'cat.0.jpg'), label: 0 },
    ]);
  });

  test('without classes.txt the class names are the labels', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'list.txt'), 'a.jpg 2\nb.jpg 0\nc.jpg 1\n');
    expect(readImageList(path.join(dir, 'list.txt')).classes).toEqual(['0', '1', '2']);
  });

  test('without classes.txt a label beyond the number of images is an error naming its line', () => {
    const file = path.join(tmp(), 'train.txt');
    fs.writeFileSync(file, 'a.jpg 0\nb.jpg 2147483647\nc.jpg 1\n');
    expect(() => readImageList(file)).toThrow(FormatError);
    expect(() => readImageList(file)).toThrow(
      `${file}:2: label 2147483647 makes 2147483648 classes but the list has 3 images`,
    );
    fs.writeFileSync(file, 'a.jpg 0\nb.jpg 2\nc.jpg 1\n');
    expect(readImageList(file).classes).toEqual(['0', '1', '2']);
  });

  test('a list line that does not parse names the file and line', () => {
    const dir = tmp();
    const file = path.join(dir, 'train.txt');
    fs.writeFileSync(file, 'a.jpg 0\nb.jpg cat\n');
    expect(() => readImageList(file)).toThrow(FormatError);
    expect(() => readImageList(file)).toThrow(
      `${file}:2: expected '<path> <label>' with an integer label but found 'b.jpg cat'`,
    );
    fs.writeFileSync(file, 'a.jpg 0\n\nb.jpg 2\n');
    fs.writeFileSync(path.join(dir, 'classes.txt'), 'cat\ndog\n');
    expect(() => readImageList(file)).toThrow(
      `${file}:3: label 2 is out of range: there are 2 classes (cat, dog)`,
    );
  });

  test.each([
    [[] as string[], 'no images found'],
    [['notes.txt'], 'no images found'],
    [['cat.1.jpg', 'dogs/a.jpg'], 'holds images both directly (e.g. cat.1.jpg) and in sub-folders'],
    [['cat.1.jpg', '7.jpg'], "7.jpg: expected a Kaggle-style name '<class>.<id>.<ext>'"],
    [['cats/a.jpg', 'dogs/notes.txt'], "class 'dogs' has no images"],
  ])('bad folder %j: %s', (files, message) => {
    expect(() => scanImageFolder(folderOf(files))).toThrow(message);
  });
});

describe('stratifiedSplit', () => {
  const list = scanImageFolder(folderOf(kaggleNames({ cat: 20, dog: 7, eel: 1 })));

  test('the same files and seed give the same split, whatever their order', () => {
    const a = stratifiedSplit(list, 0.15, 5);
    const reversed = { ...list, items: [...list.items].reverse() };
    const b = stratifiedSplit(reversed, 0.15, 5);
    expect(names(b.train)).toEqual(names(a.train));
    expect(names(b.val)).toEqual(names(a.val));
    const other = stratifiedSplit(list, 0.15, 6);
    expect(names(other.val)).not.toEqual(names(a.val));
  });

  test('each class is split by the fraction: round(n f), at least 1, never all', () => {
    const { train, val } = stratifiedSplit(list, 0.15, 1);
    expect(classCounts(val)).toEqual([3, 1, 0]);
    expect(classCounts(train)).toEqual([17, 6, 1]);
    const all = new Set([...names(train), ...names(val)]);
    expect(all.size).toBe(28);
    expect(classCounts(stratifiedSplit(list, 0, 1).val)).toEqual([0, 0, 0]);
  });

  test('rejects a fraction outside [0, 0.99]', () => {
    expect(() => stratifiedSplit(list, 1, 1)).toThrow(
      'Expected number between 0 and 0.99 for valFraction but received 1 of type number',
    );
  });
});

describe('openDataSource', () => {
  test('a folder is split on the fly into two sets of one cache', () => {
    const source = openDataSource(KAGGLE, { valFraction: 0.15, seed: 3 });
    expect(source.layout).toBe('kaggle');
    expect(source.train.cacheName).toBe('images');
    expect(source.val.list).toBe(source.train.list);
    expect(source.train.indices.length + source.val.indices.length).toBe(16);
    expect(source.cacheDir).toBe(KAGGLE);
  });

  test('lists written by writeImageLists read back as the same split', async () => {
    const out = tmp();
    const list = scanImageFolder(KAGGLE);
    const split = stratifiedSplit(list, 0.25, 2);
    await writeImageLists(out, split.train, split.val);
    expect(fs.readFileSync(path.join(out, 'classes.txt'), 'utf8')).toBe('cat\ndog\n');
    const source = openDataSource(out);
    expect(source.layout).toBe('lists');
    expect(source.classes).toEqual(['cat', 'dog']);
    const files = (s: typeof source.train) => Array.from(s.indices, (i) => s.list.items[i]);
    expect(files(source.train)).toEqual(split.train.items);
    expect(files(source.val)).toEqual(split.val.items);
    expect(source.train.cacheName).toBe('train');
    expect(source.val.cacheName).toBe('val');
    // The list file itself works too.
    expect(openDataSource(path.join(out, 'train.txt')).val.indices).toHaveLength(
      split.val.items.length,
    );
  });

  test('empty data and classes without images fail before any work', () => {
    const dir = tmp();
    expect(() => openDataSource(path.join(dir, 'nothing'))).toThrow(
      'nothing: no such file or folder',
    );
    fs.writeFileSync(path.join(dir, 'train.txt'), '\n');
    expect(() => openDataSource(dir)).toThrow('train.txt: the list has no images');
    fs.writeFileSync(path.join(dir, 'train.txt'), 'a.jpg 0\nb.jpg 2\nc.jpg 0\n');
    expect(() => openDataSource(dir)).toThrow("class 1 ('1') has no images");
    const single = folderOf(['cat.1.jpg', 'dog.1.jpg']);
    expect(() => openDataSource(single)).toThrow('the validation set is empty');
  });
});

describe('npm run prepare-data', () => {
  let log: jest.SpyInstance;
  beforeAll(() => {
    log = jest.spyOn(console, 'log').mockImplementation(() => {});
  });
  afterAll(() => log.mockRestore());

  test('writes the lists of the split train --data makes on the fly', async () => {
    const out = tmp();
    const files = await prepareData([KAGGLE, '--out', out, '--seed', '4', '--val-fraction', '0.3']);
    expect(files).toEqual({
      train: path.join(out, 'train.txt'),
      val: path.join(out, 'val.txt'),
      classes: path.join(out, 'classes.txt'),
    });
    expect(log).toHaveBeenCalledWith(
      `${KAGGLE}: 16 images in 2 classes (cat 8, dog 8), Kaggle-style names`,
    );
    expect(fs.readFileSync(files.train, 'utf8')).toMatch(/^\.\.\/.*\/kaggle\/cat\.\d\.jpg 0\n/);
    const fromLists = openDataSource(out);
    const onTheFly = openDataSource(KAGGLE, { seed: 4, valFraction: 0.3 });
    const members = (s: typeof fromLists.train) => Array.from(s.indices, (i) => s.list.items[i]);
    expect(members(fromLists.train)).toEqual(members(onTheFly.train));
    expect(members(fromLists.val)).toEqual(members(onTheFly.val));
  });

  test('argument errors', async () => {
    await expect(prepareData([])).rejects.toThrow(
      'Expected one images folder but received 0 arguments (see --help)',
    );
    await expect(prepareData([KAGGLE, '--val-fraction', '1.5'])).rejects.toThrow(
      "Expected number in [0, 0.99] for --val-fraction but received '1.5'",
    );
  });
});
