" Run by vim_test.sh on tests/editors/sample.pipe with editors/vim on the
" runtimepath: filetype detection, syntax groups at known places, settings and
" the indent expression. Prints failures; exits non-zero (cquit) if any.
let s:failures = []

function! s:Fail(msg) abort
  call add(s:failures, a:msg)
endfunction

function! s:Expect(lnum, text, group, ...) abort
  let nth = a:0 ? a:1 : 0
  let col = -1
  for i in range(nth + 1)
    let col = stridx(getline(a:lnum), a:text, col + 1)
  endfor
  if col < 0
    return s:Fail('line ' . a:lnum . ' has no ' . a:text)
  endif
  let got = synIDattr(synID(a:lnum, col + 1, 1), 'name')
  if got !=# a:group
    call s:Fail('line ' . a:lnum . ' "' . a:text . '": expected ' . a:group . ', got "' . got . '"')
  endif
endfunction

if &filetype !=# 'pipe'
  call s:Fail('filetype is "' . &filetype . '", not pipe (ftdetect)')
endif
if &commentstring !=# '# %s' || &shiftwidth != 2 || !&expandtab
  call s:Fail('ftplugin settings: commentstring=' . &commentstring . ' shiftwidth=' . &shiftwidth)
endif

call s:Expect(1, '#', 'pipeComment')
call s:Expect(2, 'param', 'pipeKeyword')
call s:Expect(2, 'steps', 'pipeDefinition')
call s:Expect(2, 'int', 'pipeType')
call s:Expect(2, '16', 'pipeNumber')
call s:Expect(2, '# integrated', 'pipeComment')
call s:Expect(3, '-2.5e-1', 'pipeNumber')
call s:Expect(5, 'pipeline', 'pipeKeyword')
call s:Expect(5, 'doubled', 'pipeFunctionDef')
call s:Expect(5, 'tensor', 'pipeType')
call s:Expect(5, '2.0', 'pipeNumber')
call s:Expect(6, 'return', 'pipeKeyword')
call s:Expect(6, 'tensor.mul', 'pipeOp')
call s:Expect(9, 'data.fashion_mnist', 'pipeOp')
call s:Expect(9, 'split', 'pipeParameter')
call s:Expect(9, '"test"', 'pipeString')
call s:Expect(10, 'train.classifier', 'pipeOp')
call s:Expect(10, 'epochs', 'pipeParameter')
call s:Expect(11, 'target', 'pipeParameter')
call s:Expect(12, 'steps', 'pipeParameter')
call s:Expect(13, 'for', 'pipeKeyword')
call s:Expect(13, 'in', 'pipeKeyword')
call s:Expect(14, 'report', 'pipeKeyword')
call s:Expect(14, 'ig_', 'pipeString')
call s:Expect(14, '{n}', 'pipeInterpolation')
call s:Expect(14, '{{', 'pipeBraceEscape')
call s:Expect(14, '\t', 'pipeEscape')
call s:Expect(14, 'doubled', 'pipeCall')
call s:Expect(14, 'factor', 'pipeParameter')
call s:Expect(15, '|>', 'pipePipe')
call s:Expect(15, 'metric.sparseness', 'pipeOp')
call s:Expect(17, 'true', 'pipeConstant')

" The indent expression agrees with `pipette fmt` on every line that is not
" aligned after an open bracket (line 12 is).
for lnum in range(2, line('$'))
  if lnum == 12 || getline(lnum) =~# '^\s*$'
    continue
  endif
  let want = indent(lnum)
  let got = PipeIndent(lnum)
  if got != want
    call s:Fail('line ' . lnum . ': PipeIndent gives ' . got . ', pipette fmt ' . want)
  endif
endfor

if empty(s:failures)
  call writefile(['ok'], '/dev/stdout')
  qall!
endif
call writefile(map(s:failures, '"FAIL " . v:val'), '/dev/stdout')
cquit!
