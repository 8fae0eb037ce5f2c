// Original file: switchboard/v1/chat.proto


export interface Welcome {
  'name'?: (string);
  'members'?: (string)[];
}

export interface Welcome__Output {
  'name': (string);
  'members': (string)[];
}
