# manpage.cmake - write neardup.1 from the program's own --help texts, so
# the manual is never written twice. Run at build time (cmake -P) with
#   -DND=path/to/neardup -DHELP2MAN=path/to/help2man -DOUT=neardup.1 -DWORK=dir
# help2man reads `neardup --help` and `--version`; every command listed
# under "Commands:" in that help gets a subsection with its own --help
# (each subcommand of one listed as "index add|stats|... DB": index add,
# index stats, ...), through help2man's --include file.
foreach(var ND HELP2MAN OUT WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "manpage.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(COMMAND "${ND}" --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "manpage.cmake: '${ND} --help' failed (${rc})")
endif()

# command names: the indented first words of the lines after "Commands:"
string(REGEX REPLACE "^.*\nCommands:\n" "" listing "${top}")
string(REGEX REPLACE "\n\n.*$" "" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(commands "")
foreach(line IN LISTS lines)
  if(line MATCHES "^  ([a-z][a-z-]*) ([a-z]+(\\|[a-z]+)+) ")
    # a command of subcommands ("index add|stats|remove|compact DB"): each its own
    string(REPLACE "|" ";" subs "${CMAKE_MATCH_2}")
    foreach(sub IN LISTS subs)
      list(APPEND commands "${CMAKE_MATCH_1} ${sub}")
    endforeach()
  elseif(line MATCHES "^  ([a-z][a-z-]*)( |$)")
    list(APPEND commands "${CMAKE_MATCH_1}")
  endif()
endforeach()
if(NOT commands)
  message(FATAL_ERROR "manpage.cmake: no commands found in '${ND} --help'")
endif()

set(include "[COMMANDS]\nEach command has its own options; `neardup COMMAND --help` prints them.\n")
foreach(command IN LISTS commands)
  separate_arguments(words UNIX_COMMAND "${command}") # "index add": two arguments
  execute_process(COMMAND "${ND}" ${words} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "manpage.cmake: '${ND} ${command} --help' failed (${rc})")
  endif()
  # roff: a backslash is \e; a line starting with . or ' would be a request
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
  string(APPEND include ".SS \"neardup ${command}\"\n.nf\n${help}.fi\n")
endforeach()

file(MAKE_DIRECTORY "${WORK}")
file(WRITE "${WORK}/commands.h2m" "${include}")
execute_process(
  COMMAND "${HELP2MAN}" --no-info --no-discard-stderr
          --name "find duplicate and near-duplicate texts"
          --include "${WORK}/commands.h2m" --output "${OUT}" "${ND}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "manpage.cmake: help2man failed (${rc})")
endif()
