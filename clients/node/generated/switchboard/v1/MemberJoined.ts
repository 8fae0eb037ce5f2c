// Original file: switchboard/v1/chat.proto


export interface MemberJoined {
  'name'?: (string);
}

export interface MemberJoined__Output {
  'name': (string);
}
