"""Parse a bank file in a background thread and hand its payments out in chunks as they come.

A daily file is small, but a bank's year-end or a migration can carry 100,000 payments, and
then parsing (CPU in this process) and importing (mostly the database's CPU) each take
seconds. Done one after the other the import waits for the whole parse before it writes
anything; overlapped, the database writes the first chunks while the parser reads on, and
the whole takes about as long as the slower of the two. The parser appends each payment
to a list as it reads it (`parse_bank_file(sink=...)`), and `chunks()` yields slices of
that list in file order. (Turning payments into rows in the parser's thread as well was
tried: it made the parser's thread the slower half and the import slower.)

The file is valid only once the parser has finished: its totals, batch sums and statement
balances are checked at the end. So the consumer must treat everything it did with the
chunks as provisional until `chunks()` is exhausted — the importer works in one database
transaction, which a `BankFileError` raised here rolls back whole.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from membook_app.banking.statement import (
    BankFileError,
    BankPayment,
    ParsedFile,
    gc_paused,
    parse_bank_file,
)

LEAST = 10_000  # a chunk waits for this many payments (or the end of the file) …
MOST = 50_000  # … and takes all that are ready, up to this many
_POLL_S = 0.002  # the consumer's wait for more payments; the wait releases the GIL


class BackgroundParse:
    """One file parsed on a worker thread; iterate `chunks()` once, then read `parsed`."""

    def __init__(self, data: bytes, filename: str = "", *, least: int = LEAST,
                 most: int = MOST) -> None:
        self._data = data
        self._filename = filename
        self._least = least
        self._most = max(most, least)
        self._sink: list[BankPayment] = []
        self._done = threading.Event()
        self._parsed: ParsedFile | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bank-file-parse", daemon=True)

    def _run(self) -> None:
        try:
            self._parsed = parse_bank_file(self._data, self._filename, sink=self._sink)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._error = exc
        finally:
            self._done.set()

    def chunks(self) -> Iterator[list[BankPayment]]:
        """Payments in file order: each chunk waits for at least `least` of them
        (fewer only at the end of the file) and takes all that are ready, up to `most` —
        so a consumer faster than the parser gets steady chunks, and a slower one gets
        bigger ones and fewer rounds.

        Raises the parser's `BankFileError` as soon as it is known — possibly after some
        chunks were handed out, which is why the consumer must be transactional. The
        cyclic garbage collector stays paused throughout (see `gc_paused`): pausing it
        from both threads would let the first one to finish turn it back on for the other.
        """
        with gc_paused():
            self._thread.start()
            try:
                yield from self._slices()
            finally:
                self._thread.join()

    def _slices(self) -> Iterator[list[BankPayment]]:
        payments = self._sink
        taken = 0
        while True:
            finished = self._done.is_set()  # read before the length: nothing comes after it
            available = len(payments)
            if finished and self._error is not None:
                raise self._error
            if available - taken >= self._least or (finished and available > taken):
                end = min(available, taken + self._most)
                yield payments[taken:end]
                taken = end
            elif finished:
                return
            else:
                self._done.wait(_POLL_S)

    @property
    def parsed(self) -> ParsedFile:
        """The whole verified result (format, totals, balances); after `chunks()` is done."""
        if self._parsed is None:
            raise BankFileError("the file has not been parsed to its end", format="bank file",
                                file=self._filename)
        return self._parsed
