// How the console shows an error from the hub: the hub's own sentence, plainly, in place.
export function Problem(props: { message: string | null | undefined }) {
  if (!props.message) return null;
  return (
    <p class="problem" role="alert">
      {props.message}
    </p>
  );
}
