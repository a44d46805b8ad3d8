"""Progress for long calls: tqdm when it is installed, a line on stderr when not."""
import sys


class Progress:
    def __init__(self, what, unit):
        self.bar = None
        self.what, self.unit = what, unit
        self.last = None
        try:
            from tqdm.auto import tqdm
            self.bar = tqdm(desc=what, unit=unit, leave=False)
        except ImportError:
            pass

    def __call__(self, done, total):
        if (done, total) == self.last:
            return
        self.last = (done, total)
        if self.bar is not None:
            self.bar.total = total
            self.bar.n = done
            self.bar.refresh()
        else:
            sys.stderr.write(f"\r{self.what}: {done}/{total} {self.unit}")
            sys.stderr.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.last is not None:
            sys.stderr.write("\n")


def make(progress, what, unit):
    """None, or a callable (done, total) with .close(): `progress` is True, False or a callable."""
    if progress is True:
        return Progress(what, unit)
    if callable(progress):
        class Call:
            def __call__(self, done, total):
                progress(done, total)

            def close(self):
                pass
        return Call()
    return None
